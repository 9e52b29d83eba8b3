"""``vhq train-lia``: resolve the options, make the run folder, build the validation scorer, train."""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from lia.defaults import DEVICE
from lia.train.options import TrainOptions
from vhq import __version__, console
from vhq.errors import BadInput

app = typer.Typer()


class Amp(str, Enum):
    bf16 = "bf16"
    fp16 = "fp16"
    none = "none"


class Dictionary(str, Enum):
    orthogonal = "orthogonal"
    random = "random"
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
    size: Annotated[int, typer.Option("--size", help="training resolution (frames are resized to it)")] = TrainOptions.size,
    batch: Annotated[int, typer.Option("--batch", min=1, help="images per step over all processes (official 64; the paper: 32 at 256, 16 at 512)")] = TrainOptions.batch,
    batch_gpu: Annotated[Optional[int], typer.Option("--batch-gpu", min=1, help="images per process per accumulation round (default: batch / processes)")] = TrainOptions.batch_gpu,
    kimg: Annotated[float, typer.Option("--kimg", min=0.0, help="training length in thousands of images (default: the official 800k steps x 64)")] = TrainOptions.kimg,
    iters: Annotated[Optional[int], typer.Option("--iters", min=0, help="training length in steps (overrides --kimg)")] = TrainOptions.iters,
    motion_dim: Annotated[int, typer.Option("--motion-dim", min=1, help="motion directions (paper ablation: 5, 10, 20, 40, 100; ignored with --dictionary none)")] = TrainOptions.motion_dim,
    dictionary: Annotated[Dictionary, typer.Option("--dictionary", help="orthogonal: the official orthonormal basis; random: a learned basis never orthogonalised; none: the motion head outputs the latent displacement directly")] = Dictionary(TrainOptions.dictionary),
    source_warp: Annotated[bool, typer.Option("--source-warp", help="warp and in-paint the source image itself at full resolution (the paper's improved 512 model); --init-from may be a plain model")] = TrainOptions.source_warp,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="base learning rate (G gets lr*4/5, D lr*16/17, as officially)")] = TrainOptions.lr,
    resume: Annotated[Optional[str], typer.Option("--resume", help="training checkpoint to continue exactly, or 'latest' (newest under --out)")] = TrainOptions.resume,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", help="official (vox.pt ...) or vhq-lia weights to fine-tune from", exists=True, dir_okay=False)] = TrainOptions.init_from,
    amp: Annotated[Amp, typer.Option("--amp", help="mixed precision (bf16 suits recent GPUs; fp16 uses gradient scaling)")] = Amp(TrainOptions.amp),
    workers: Annotated[int, typer.Option("--workers", min=0, help="decoding worker processes per process")] = TrainOptions.workers,
    augment: Annotated[str, typer.Option("--augment", help="'none' (vox) or a comma list of crop, flip, jitter (taichi: crop,flip,jitter; ted: flip,jitter)")] = ",".join(TrainOptions.augment) or "none",
    perceptual: Annotated[Perceptual, typer.Option("--perceptual", help="vgg19 (the recipe; needs `vhq weights fetch vgg19`) or none (smoke runs)")] = Perceptual(TrainOptions.perceptual),
    r1_gamma: Annotated[float, typer.Option("--r1-gamma", min=0.0, help="R1 weight (0 = off, as in the paper)")] = TrainOptions.r1_gamma,
    ema_kimg: Annotated[float, typer.Option("--ema-kimg", min=0.0, help="EMA generator half-life in kimg (0 = off, as in the paper)")] = TrainOptions.ema_kimg,
    eval_every: Annotated[int, typer.Option("--eval-every", min=0, help="score L1/LPIPS on held-out clips every N ticks (0 = off)")] = TrainOptions.eval_every,
    eval_data: Annotated[Optional[Path], typer.Option("--eval-data", help="held-out clips (default: test.csv beside --data)")] = None,
    eval_clips: Annotated[int, typer.Option("--eval-clips", min=1, help="held-out clips scored per evaluation")] = 16,
    eval_frames: Annotated[int, typer.Option("--eval-frames", min=0, help="frames per clip scored (0 = all)")] = 64,
    tick_kimg: Annotated[float, typer.Option("--tick-kimg", min=0.0, help="status line, stats and sample grid every this many kimg")] = TrainOptions.kimg_per_tick,
    snap: Annotated[int, typer.Option("--snap", min=1, help="checkpoint every this many ticks")] = TrainOptions.snap_ticks,
    keep: Annotated[int, typer.Option("--keep", min=0, help="checkpoints kept per run (0 = all)")] = TrainOptions.keep,
    samples: Annotated[int, typer.Option("--samples", min=1, help="rows (source | driving | reconstruction) of each tick's sample grid")] = TrainOptions.sample_count,
    seed: Annotated[int, typer.Option("--seed", help="base random seed")] = TrainOptions.seed,
    device: Annotated[str, typer.Option("--device", help="'auto' (this rank's GPU, else CPU), 'cpu', 'cuda:0' ...")] = DEVICE,
    desc: Annotated[Optional[str], typer.Option("--desc", help="run folder description (default: from the options)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the resolved options and exit")] = False,
    dtype: Annotated[str, typer.Option("--dtype", hidden=True, help="parameter dtype (float64 for exactness tests)")] = TrainOptions.dtype,
) -> None:
    """Train LIA with the official recipe (single GPU, CPU, or torchrun --nproc_per_node N)."""
    from lia.train import loop as train
    from lia.train.data import find_clips
    from lia.train.resume import resume_checkpoint
    from vhq import distributed
    from vhq.io import files

    distributed.init()
    world = distributed.world_size()
    files.check_writable(out, folder=True)
    resume_path = resume_checkpoint(resume, out) if resume is not None else None
    held = eval_data or held_out(data)
    if eval_every and held is None:
        raise BadInput(f"--eval-every {eval_every}: no held-out clips (no test.csv beside {data})", hint="pass --eval-data")
    style_dim = TrainOptions.style_dim
    if dictionary is Dictionary.none:
        motion_dim = style_dim  # the motion head's output is the latent displacement itself
    elif motion_dim > style_dim:
        raise BadInput(f"--motion-dim {motion_dim}: at most the latent size {style_dim}")
    options = TrainOptions(
        data=str(data), sample_data=str(held) if held else None, size=size, style_dim=style_dim, motion_dim=motion_dim,
        dictionary=dictionary.value, source_warp=source_warp, batch=batch, batch_gpu=batch_gpu or batch // max(world, 1),
        iters=iters, kimg=kimg, lr=lr, perceptual=perceptual.value, r1_gamma=r1_gamma, ema_kimg=ema_kimg, amp=amp.value, dtype=dtype,
        augment=_augments(augment), workers=workers, seed=seed, kimg_per_tick=tick_kimg, snap_ticks=snap, keep=keep,
        eval_every=eval_every, sample_count=samples, resume=str(resume_path) if resume_path else None,
        init_from=str(init_from) if init_from else None, device=None if device == DEVICE else device,
    )
    record = {**dataclasses.asdict(options), "augment": list(options.augment), "eval_data": str(held) if held else None,
              "eval_clips": eval_clips, "eval_frames": eval_frames, "world_size": world, "vhq_version": __version__}
    if dry_run:
        console.echo(json.dumps(record, indent=2))
        return
    scorer = None
    if eval_every:
        from lia.train.validation import ReconstructionScorer, validation_metrics

        make_metrics = validation_metrics(distributed.resolve_device(options.device))
        scorer = ReconstructionScorer(find_clips(held, split="test")[:eval_clips], size, make_metrics, eval_frames or None)
    from lia.train.rundir import leased_runs

    variant = ("-sw" if source_warp else "") + (f"-m{motion_dim}" if motion_dim != TrainOptions.motion_dim and dictionary is not Dictionary.none else "")
    variant += f"-dict{dictionary.value}" if dictionary is not Dictionary.orthogonal else ""
    name = desc or f"lia{size}{variant}-{(data.stem if data.is_file() else data.name) or 'data'}-b{batch}" + ("-resume" if resume_path else "")
    with leased_runs(out, name, resume_path) as run_dir:
        summary = train.training_loop(options, run_dir=run_dir, scorer=scorer, recorded=record)
    if summary["checkpoint"]:
        console.echo(summary["checkpoint"])
