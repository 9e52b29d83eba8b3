"""``vhq train-lia``: resolve the options, make the run folder, build the validation scorer, train."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from vhq import __version__, console
from vhq.errors import BadInput

app = typer.Typer()


class Amp(str, Enum):
    bf16 = "bf16"
    fp16 = "fp16"
    none = "none"


class Perceptual(str, Enum):
    vgg19 = "vgg19"
    none = "none"


def _augments(value: str) -> tuple[str, ...]:
    from lia.train.data import AUGMENTS

    if value.strip().lower() in ("", "none"):
        return ()
    names = tuple(a.strip() for a in value.split(",") if a.strip())
    bad = [a for a in names if a not in AUGMENTS]
    if bad:
        raise BadInput(f"--augment {value!r}: unknown {bad[0]!r} (use 'none' or a comma list of {', '.join(AUGMENTS)})")
    return names


def held_out(data: Path) -> Path | None:
    """``test.csv`` beside the training data, when there is one."""
    for cand in ((data / "test.csv") if data.is_dir() else None, (data.parent / "test.csv") if data.is_file() else None):
        if cand is not None and cand.is_file() and cand.resolve() != data.resolve():
            return cand
    return None


@app.command("train-lia")
def train_lia(
    data: Annotated[Path, typer.Option("--data", help="`vhq split --out` folder (uses train.csv), a split CSV, or a folder of clips (mp4 or PNG frame folders)")],
    out: Annotated[Path, typer.Option("--out", help="folder of runs: each run goes to OUT/<NNNNN>-<desc>/", file_okay=False)],
    size: Annotated[int, typer.Option("--size", help="training resolution (frames are resized to it)")] = 256,
    batch: Annotated[int, typer.Option("--batch", min=1, help="images per step over all processes (official 64)")] = 64,
    batch_gpu: Annotated[Optional[int], typer.Option("--batch-gpu", min=1, help="images per process per accumulation round (default: batch / processes)")] = None,
    kimg: Annotated[float, typer.Option("--kimg", min=0.0, help="training length in thousands of images (default: the official 800k steps x 64)")] = 51200.0,
    iters: Annotated[Optional[int], typer.Option("--iters", min=0, help="training length in steps (overrides --kimg)")] = None,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="base learning rate (G gets lr*4/5, D lr*16/17, as officially)")] = 0.002,
    resume: Annotated[Optional[str], typer.Option("--resume", help="training checkpoint to continue exactly, or 'latest' (newest under --out)")] = None,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", help="official (vox.pt ...) or vhq-lia weights to fine-tune from", exists=True, dir_okay=False)] = None,
    amp: Annotated[Amp, typer.Option("--amp", help="mixed precision (bf16 suits recent GPUs; fp16 uses gradient scaling)")] = Amp.none,
    workers: Annotated[int, typer.Option("--workers", min=0, help="decoding worker processes per process")] = 4,
    augment: Annotated[str, typer.Option("--augment", help="'none' (vox) or a comma list of crop, flip, jitter (taichi: crop,flip,jitter; ted: flip,jitter)")] = "none",
    perceptual: Annotated[Perceptual, typer.Option("--perceptual", help="vgg19 (the recipe; needs `vhq weights fetch vgg19`) or none (smoke runs)")] = Perceptual.vgg19,
    r1_gamma: Annotated[float, typer.Option("--r1-gamma", min=0.0, help="R1 weight (0 = off, as in the paper)")] = 0.0,
    ema_kimg: Annotated[float, typer.Option("--ema-kimg", min=0.0, help="EMA generator half-life in kimg (0 = off, as in the paper)")] = 0.0,
    eval_every: Annotated[int, typer.Option("--eval-every", min=0, help="score L1/LPIPS on held-out clips every N ticks (0 = off)")] = 0,
    eval_data: Annotated[Optional[Path], typer.Option("--eval-data", help="held-out clips (default: test.csv beside --data)")] = None,
    eval_clips: Annotated[int, typer.Option("--eval-clips", min=1, help="held-out clips scored per evaluation")] = 16,
    eval_frames: Annotated[int, typer.Option("--eval-frames", min=0, help="frames per clip scored (0 = all)")] = 64,
    tick_kimg: Annotated[float, typer.Option("--tick-kimg", min=0.0, help="status line, stats and sample grid every this many kimg")] = 4.0,
    snap: Annotated[int, typer.Option("--snap", min=1, help="checkpoint every this many ticks")] = 16,
    keep: Annotated[int, typer.Option("--keep", min=0, help="checkpoints kept per run (0 = all)")] = 5,
    samples: Annotated[int, typer.Option("--samples", min=1, help="rows (source | driving | reconstruction) of each tick's sample grid")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="base random seed")] = 0,
    device: Annotated[str, typer.Option("--device", help="'auto' (this rank's GPU, else CPU), 'cpu', 'cuda:0' ...")] = "auto",
    desc: Annotated[Optional[str], typer.Option("--desc", help="run folder description (default: from the options)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the resolved options and exit")] = False,
    dtype: Annotated[str, typer.Option("--dtype", hidden=True, help="parameter dtype (float64 for exactness tests)")] = "float32",
) -> None:
    """Train LIA with the official recipe (single GPU, CPU, or torchrun --nproc_per_node N)."""
    from vhq import distributed

    from lia.train import loop as train
    from lia.train.data import find_clips
    from lia.train.resume import find_latest

    distributed.init()
    world = distributed.world_size()
    resume_path = None
    if resume is not None:
        resume_path = find_latest(out) if resume == "latest" else Path(resume)
        if not resume_path.is_file():
            raise BadInput(f"--resume {resume}: no such checkpoint file")
    held = eval_data or held_out(data)
    if eval_every and held is None:
        raise BadInput(f"--eval-every {eval_every}: no held-out clips (no test.csv beside {data})", hint="pass --eval-data")
    options = {
        "data": str(data), "sample_data": str(held) if held else None, "size": size, "style_dim": 512, "motion_dim": 20,
        "batch": batch, "batch_gpu": batch_gpu or batch // max(world, 1), "iters": iters, "kimg": kimg, "lr": lr,
        "g_reg_every": 4, "d_reg_every": 16, "perceptual": perceptual.value, "r1_gamma": r1_gamma, "ema_kimg": ema_kimg,
        "amp": amp.value, "dtype": dtype, "augment": list(_augments(augment)), "workers": workers, "seed": seed,
        "kimg_per_tick": tick_kimg, "snap_ticks": snap, "keep": keep, "eval_every": eval_every, "sample_count": samples,
        "resume": str(resume_path) if resume_path else None, "init_from": str(init_from) if init_from else None,
        "device": None if device == "auto" else device,
    }
    record = {**options, "eval_data": str(held) if held else None, "eval_clips": eval_clips, "eval_frames": eval_frames,
              "world_size": world, "vhq_version": __version__}
    if dry_run:
        console.echo(json.dumps(record, indent=2))
        return
    scorer = None
    if eval_every:
        from lia.train.validation import ReconstructionScorer, validation_metrics

        make_metrics = validation_metrics(distributed.resolve_device(options["device"]))
        scorer = ReconstructionScorer(find_clips(held, split="test")[:eval_clips], size, make_metrics, eval_frames or None)
    from lia.train.rundir import new_run_dir

    name = desc or f"lia{size}-{(data.stem if data.is_file() else data.name) or 'data'}-b{batch}" + ("-resume" if resume_path else "")
    opts = {k: (tuple(v) if k == "augment" else v) for k, v in options.items()}
    summary = train.training_loop(run_dir=lambda: new_run_dir(out, name), scorer=scorer, options=record, **opts)
    if summary["checkpoint"]:
        console.echo(summary["checkpoint"])
