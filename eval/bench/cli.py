"""``vhq bench reconstruct|cross``.

Kept free of heavy imports so ``vhq --help`` stays fast; models and networks load inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

bench_app = typer.Typer(
    help="Run a model on the benchmark protocols (same-identity reconstruction, cross-identity transfer) and score it.",
    no_args_is_help=True,
)
app = typer.Typer()
app.add_typer(bench_app, name="bench")

ModelOpt = Annotated[str, typer.Option("--model", help="lia, static (source repeated), gt (ground truth copied), cmd (--command), or a Python entry point module:function.")]
CkptOpt = Annotated[Optional[Path], typer.Option("--ckpt", help="--model lia: checkpoint (vhq-lia from `vhq train-lia`, official vox.pt, or a generator state_dict).", dir_okay=False)]
CommandOpt = Annotated[Optional[str], typer.Option("--command", help="--model cmd: run per clip, e.g. 'python my.py --src {source} --drv {driving} -o {out}' ({mode}, {key} also filled in).")]
DataOpt = Annotated[Path, typer.Option("--data", help="Folder with the `vhq split` lists (<split>.csv, or split/<split>.csv).")]
SplitOpt = Annotated[str, typer.Option("--split", help="Which list to run on.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Folder for predictions, per-model runs and the default leaderboard (one folder per protocol).")]
NameOpt = Annotated[Optional[str], typer.Option("--name", help="Model name on the leaderboard (default: lia-<ckpt stem>, static, gt, cmd, the function's name).")]
FormatOpt = Annotated[str, typer.Option("--format", help="Predictions: mp4 (H.264 lossless RGB, libx264rgb CRF 0) or png (frame folders).")]
BoardOpt = Annotated[Optional[Path], typer.Option("--leaderboard", help="Leaderboard CSV to merge the rows into (default: OUT/leaderboard.csv).")]
SkipOpt = Annotated[bool, typer.Option("--skip-missing-weights", help="Skip metrics whose weights are not in the cache (listed with the command that gets them) instead of failing.")]
DeviceOpt = Annotated[Optional[str], typer.Option("--device", help="cpu, cuda, cuda:1 … (default: this rank's GPU if any, else cpu).")]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Frames per model/metric step.")]
LimitOpt = Annotated[Optional[int], typer.Option("--limit", help="Only the first N clips/pairs (smoke runs; the test-set fingerprint changes).")]
ShardOpt = Annotated[Optional[str], typer.Option("--shard", help="K/N: predict this machine's share only; score with a run without --shard once all are done.")]
NoScoreOpt = Annotated[bool, typer.Option("--no-score", help="Only write predictions.")]
TimeoutOpt = Annotated[Optional[float], typer.Option("--command-timeout", help="--model cmd: seconds one clip may take.")]


def _make(model, ckpt, command, device, batch_size, command_timeout):
    from vhq import distributed

    from eval.bench.models import make_model

    dev = str(distributed.resolve_device(device))
    return make_model(model, ckpt=ckpt, command=command, device=dev, batch=batch_size, command_timeout=command_timeout)


@bench_app.command("reconstruct")
def reconstruct_command(
    model: ModelOpt,
    data: DataOpt,
    out: OutOpt,
    ckpt: CkptOpt = None,
    command: CommandOpt = None,
    split: SplitOpt = "test",
    name: NameOpt = None,
    metrics: Annotated[str, typer.Option(help="Paired metrics: l1, lpips, akd, mkr, akd_dlib68, mkr_dlib68, aed.")] = "l1,lpips,akd,mkr,aed",
    eval_protocol: Annotated[str, typer.Option("--eval-protocol", help="lia (L1/LPIPS video-weighted, rest frame-weighted) or fomm (all frame-weighted).")] = "lia",
    size: Annotated[Optional[int], typer.Option(help="Score at NxN (default: the clips' size; predictions of another size are resized to it).")] = None,
    fmt: FormatOpt = "mp4",
    leaderboard: BoardOpt = None,
    skip_missing_weights: SkipOpt = False,
    device: DeviceOpt = None,
    batch_size: BatchOpt = 16,
    limit: LimitOpt = None,
    shard: ShardOpt = None,
    no_score: NoScoreOpt = False,
    command_timeout: TimeoutOpt = None,
) -> None:
    """Same-identity reconstruction: frame 0 is the source, every frame drives it (absolute motion); paired metrics."""
    from vhq.parallel import Shard

    from eval.bench.protocols import BenchOptions, reconstruct

    opts = BenchOptions(data=data, out=out, split=split, fmt=fmt, metrics=metrics, eval_protocol=eval_protocol, size=size, name=name,
                        leaderboard=leaderboard, skip_missing_weights=skip_missing_weights, device=device, batch_size=batch_size,
                        limit=limit, shard=Shard.parse(shard), score=not no_score)
    _report(reconstruct(_make(model, ckpt, command, device, batch_size, command_timeout), opts))


@bench_app.command("cross")
def cross_command(
    model: ModelOpt,
    data: DataOpt,
    out: OutOpt,
    ckpt: CkptOpt = None,
    command: CommandOpt = None,
    split: SplitOpt = "test",
    name: NameOpt = None,
    metrics: Annotated[str, typer.Option(help="Distribution metrics and csim: fvd_i3d, kvd, fid_r3dx101, acd, csim.")] = "fvd_i3d,kvd,fid_r3dx101,acd,csim",
    pairs: Annotated[Optional[Path], typer.Option("--pairs", help="Pairs file (default: the shipped manifests/voxcelebhq_cross_pairs.csv).", dir_okay=False)] = None,
    frames: Annotated[int, typer.Option("--frames", help="Driving frames per pair, and frames per real clip (LIA: 100).")] = 100,
    fmt: FormatOpt = "mp4",
    leaderboard: BoardOpt = None,
    skip_missing_weights: SkipOpt = False,
    device: DeviceOpt = None,
    batch_size: BatchOpt = 16,
    limit: LimitOpt = None,
    shard: ShardOpt = None,
    no_score: NoScoreOpt = False,
    command_timeout: TimeoutOpt = None,
) -> None:
    """Cross-identity transfer over the frozen pairs (relative motion); FVD/KVD/video FID/ACD against the real set, csim to the source."""
    from vhq.parallel import Shard

    from eval.bench.protocols import BenchOptions, cross

    opts = BenchOptions(data=data, out=out, split=split, fmt=fmt, metrics=metrics, name=name, leaderboard=leaderboard,
                        skip_missing_weights=skip_missing_weights, device=device, batch_size=batch_size, limit=limit,
                        shard=Shard.parse(shard), score=not no_score, pairs=pairs, frames=frames)
    _report(cross(_make(model, ckpt, command, device, batch_size, command_timeout), opts))


def _report(res) -> None:
    from vhq import console, distributed

    if distributed.rank() != 0:
        return
    console.echo(f"{res.name}: {res.protocol}, {res.done} predicted now, {res.reused} reused; predictions {res.preds}")
    for metric, how in res.skipped_metrics.items():
        console.echo(f"  {metric:<16} skipped: weights not in the cache ({how})")
    for r in res.rows:
        flag = "" if r["weight_verified"] in ("True", "") else f"  (weights {r.get('weight_state') or 'unverified'})"
        std = f" ± {float(r['value_std']):.4g}" if r.get("value_std") else ""
        value = f"{float(r['value']):.6g}" if r["value"] else "n/a"
        console.echo(f"  {r['metric']:<16} {value:>14}{std}  {r['protocol']}, {r['weighting']}-weighted, {r['n_videos']} videos{flag}")
    if res.missing_pairs:
        console.echo(f"  {len(res.missing_pairs)} pair(s) not scored: their clips are not in this build ({res.paths.get('pairs_used', 'pairs_used.csv')})")
    for key in ("per_video", "summary", "run"):
        if key in res.paths:
            console.echo(str(res.paths[key]))
    if res.leaderboard is not None:
        console.echo(str(res.leaderboard))
