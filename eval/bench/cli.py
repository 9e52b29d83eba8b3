"""``vhq bench reconstruct|cross|generate``.

Kept free of heavy imports so ``vhq --help`` stays fast; models and networks load inside the commands.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Annotated, Optional

import typer

from eval import catalog
from eval.bench.options import BenchOptions
from vhq.parallel import Shard

bench_app = typer.Typer(
    help="Run a model on the benchmark protocols (same-identity reconstruction, cross-identity transfer) and score it.",
    no_args_is_help=True,
)
app = typer.Typer()
app.add_typer(bench_app, name="bench")

REQUIRED = inspect.Parameter.empty

# The options every protocol takes, around its own in --help: name → (declaration, default).
BEFORE = {
    "model": (Annotated[str, typer.Option("--model", help="lia, liax (LIA-X, 512 px; default weights 'lia_x'), static (source repeated), gt (ground truth copied), cmd (--command), or a Python entry point module:function.")], REQUIRED),
    "data": (Annotated[Path, typer.Option("--data", help="Folder with the `vhq split` lists (<split>.csv, or split/<split>.csv).")], REQUIRED),
    "out": (Annotated[Path, typer.Option("--out", help="Folder for predictions, per-model runs and the default leaderboard (one folder per protocol).")], REQUIRED),
    "ckpt": (Annotated[Optional[Path], typer.Option("--ckpt", help="--model lia: checkpoint (vhq-lia from `vhq train-lia`, official vox.pt, or a generator state_dict); --model liax: a LIA-X state_dict (default: the cached lia_x weights).", dir_okay=False)], None),
    "command": (Annotated[Optional[str], typer.Option("--command", help="--model cmd: run per clip, e.g. 'python my.py --src {source} --drv {driving} -o {out}' ({mode}, {key} also filled in).")], None),
    "split": (Annotated[str, typer.Option("--split", help="Which list to run on.")], BenchOptions.split),
    "name": (Annotated[Optional[str], typer.Option("--name", help="Model name on the leaderboard (default: lia-<ckpt stem>, lia-x, static, gt, cmd, the function's name).")], BenchOptions.name),
}
AFTER = {
    "fmt": (Annotated[str, typer.Option("--format", help="Predictions: mp4 (H.264 lossless RGB, libx264rgb CRF 0) or png (frame folders).")], BenchOptions.fmt),
    "leaderboard": (Annotated[Optional[Path], typer.Option("--leaderboard", help="Leaderboard CSV to merge the rows into (default: OUT/leaderboard.csv).")], BenchOptions.leaderboard),
    "skip_missing_weights": (Annotated[bool, typer.Option("--skip-missing-weights", help="Skip metrics whose weights are not in the cache (listed with the command that gets them) instead of failing.")], BenchOptions.skip_missing_weights),
    "device": (Annotated[Optional[str], typer.Option("--device", help="cpu, cuda, cuda:1 … (default: this rank's GPU if any, else cpu).")], BenchOptions.device),
    "batch_size": (Annotated[int, typer.Option("--batch-size", min=1, help="Frames per model/metric step.")], BenchOptions.batch_size),
    "limit": (Annotated[Optional[int], typer.Option("--limit", help="Only the first N clips/pairs (smoke runs; the test-set fingerprint changes).")], BenchOptions.limit),
    "shard": (Annotated[Optional[str], typer.Option("--shard", help="K/N: predict this machine's share only; score with a run without --shard once all are done.")], None),
    "no_score": (Annotated[bool, typer.Option("--no-score", help="Only write predictions.")], not BenchOptions.score),
    "command_timeout": (Annotated[Optional[float], typer.Option("--command-timeout", help="--model cmd: seconds one clip may take.")], None),
}


def _params(options: dict, kind) -> list[inspect.Parameter]:
    return [inspect.Parameter(n, kind, annotation=a, default=d) for n, (a, d) in options.items()]


def protocol_command(name: str):
    """Register ``vhq bench NAME``: the function declares the protocol's own options and takes
    ``**common``; the options every protocol takes (``BEFORE``, ``AFTER``) are added around them here."""

    def register(fn):
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        params = _params(BEFORE, inspect.Parameter.POSITIONAL_OR_KEYWORD) + own + _params(AFTER, inspect.Parameter.KEYWORD_ONLY)

        @functools.wraps(fn)
        def command(**kwargs):
            return fn(**kwargs)

        command.__signature__ = sig.replace(parameters=params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return bench_app.command(name)(command)

    return register


@protocol_command("reconstruct")
def reconstruct_command(
    metrics: Annotated[str, typer.Option(help=f"Paired metrics: {catalog.names('paired')}.")] = catalog.default_names("paired"),
    eval_protocol: Annotated[str, typer.Option("--eval-protocol", help="lia (L1/LPIPS video-weighted, rest frame-weighted) or fomm (all frame-weighted).")] = BenchOptions.eval_protocol,
    size: Annotated[Optional[int], typer.Option(help="Score at NxN (default: the clips' size; predictions of another size are resized to it).")] = BenchOptions.size,
    **common,
) -> None:
    """Same-identity reconstruction: frame 0 is the source, every frame drives it (absolute motion); paired metrics."""
    from eval.bench.protocols import reconstruct

    _run(reconstruct, dict(metrics=metrics, eval_protocol=eval_protocol, size=size), common)


@protocol_command("cross")
def cross_command(
    metrics: Annotated[str, typer.Option(help=f"Distribution metrics and csim: {catalog.names('distribution')}.")] = catalog.default_names("distribution"),
    pairs: Annotated[Optional[Path], typer.Option("--pairs", help="Pairs file (default: the shipped manifests/voxcelebhq_cross_pairs.csv).", dir_okay=False)] = BenchOptions.pairs,
    frames: Annotated[int, typer.Option("--frames", help="Driving frames per pair, and frames per real clip (LIA: 100).")] = BenchOptions.frames,
    **common,
) -> None:
    """Cross-identity transfer over the frozen pairs (relative motion); FVD/KVD/video FID/ACD against the real set, csim to the source."""
    from eval.bench.protocols import cross

    _run(cross, dict(metrics=metrics, pairs=pairs, frames=frames), common)


@protocol_command("generate")
def generate_command(
    lmdm: Annotated[Optional[Path], typer.Option("--lmdm", help="--model lmdm: the `vhq train-lmdm` checkpoint (--ckpt is the LIA that renders).", dir_okay=False)] = None,
    lengths: Annotated[str, typer.Option("--lengths", help="Frames per generated video, one set each (LEO: 16 and 128).")] = "16,128",
    metrics: Annotated[str, typer.Option(help=f"Distribution metrics: {catalog.names('distribution')} (LEO: FVD, KVD, ACD).")] = "fvd_i3d,kvd,acd",
    fvd_protocol: Annotated[str, typer.Option("--fvd-protocol", help="FVD clip protocol: stylegan-v (LEO's faces), digan (LEO's TaichiHD), tats.")] = "stylegan-v",
    seed: Annotated[int, typer.Option("--seed", help="Base seed; each clip's seed is derived from it and the clip id (recorded in the model identity).")] = 0,
    sampler: Annotated[str, typer.Option("--sampler", help="ddpm (ancestral, the paper's) or ddim (--steps, not the paper's).")] = "ddpm",
    steps: Annotated[Optional[int], typer.Option("--steps", min=1, help="--sampler ddim: number of steps.")] = None,
    **common,
) -> None:
    """LEO's generation protocol: the first frame of each clip starts a video of each length; FVD/KVD/ACD against the real set."""
    from eval.bench.models import LmdmModel
    from eval.bench.protocols import generate
    from vhq import distributed
    from vhq.errors import BadInput

    if common["model"] != "lmdm":
        raise BadInput(f"--model {common['model']!r}: `vhq bench generate` runs --model lmdm (with --ckpt LIA --lmdm LMDM)")
    if sampler not in ("ddpm", "ddim"):
        raise BadInput(f"--sampler {sampler!r}: choose ddpm or ddim")
    try:
        lens = tuple(int(v) for v in lengths.split(",") if v.strip())
    except ValueError:
        raise BadInput(f"--lengths {lengths!r}: a comma list of frame counts") from None
    opts = _options(dict(metrics=metrics), common)
    model = LmdmModel(common["ckpt"], lmdm, device=str(distributed.resolve_device(opts.device)), batch=opts.batch_size, seed=seed,
                      sampler=sampler, steps=steps)
    for res in generate(model, opts, lens, fvd_protocol=fvd_protocol):
        _report(res)


def _options(own: dict, c: dict) -> BenchOptions:
    return BenchOptions(**own, data=c["data"], out=c["out"], split=c["split"], name=c["name"], fmt=c["fmt"], leaderboard=c["leaderboard"],
                        skip_missing_weights=c["skip_missing_weights"], device=c["device"], batch_size=c["batch_size"], limit=c["limit"],
                        shard=Shard.parse(c["shard"]), score=not c["no_score"])


def _run(protocol, own: dict, c: dict) -> None:
    """Build the options, then the model; run the protocol and print what it did."""
    from eval.bench.models import make_model
    from vhq import distributed

    opts = _options(own, c)
    model = make_model(c["model"], ckpt=c["ckpt"], command=c["command"], device=str(distributed.resolve_device(opts.device)),
                       batch=opts.batch_size, command_timeout=c["command_timeout"])
    _report(protocol(model, opts))


def _report(res) -> None:
    from eval import report
    from vhq import console, distributed

    if distributed.rank() != 0:
        return
    console.echo(f"{res.name}: {res.protocol}, {res.done} predicted now, {res.reused} reused; predictions {res.preds}")
    for metric, how in res.skipped_metrics.items():
        console.echo(f"  {metric:<16} skipped: weights not in the cache ({how})")
    report.echo_summary(res.rows, "bench")
    if res.missing_pairs:
        console.echo(f"  {len(res.missing_pairs)} pair(s) not scored: their clips are not in this build ({res.paths.get('pairs_used', 'pairs_used.csv')})")
    for key in ("per_video", "summary", "run"):
        if key in res.paths:
            console.echo(str(res.paths[key]))
    if res.leaderboard is not None:
        console.echo(str(res.leaderboard))
