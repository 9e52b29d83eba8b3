"""``vhq lia motion``, ``vhq train-lmdm`` and ``vhq generate`` (LEO's latent motion diffusion model).

torch and the model code are imported inside the commands, so that ``vhq --help`` stays light.
The root cli.py mounts ``app`` and attaches :func:`motion_command` to the ``vhq lia`` group.
"""

from __future__ import annotations

import dataclasses
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from lia.defaults import DEVICE
from lia.lmdm.train.options import LmdmOptions
from vhq import __version__, console
from vhq.errors import BadInput

app = typer.Typer()


class Sampler(str, Enum):
    ddpm = "ddpm"
    ddim = "ddim"


class Format(str, Enum):
    mp4 = "mp4"
    png = "png"


def _ints(value: str, option: str) -> tuple[int, ...]:
    try:
        out = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise BadInput(f"{option} {value!r}: a comma list of integers") from None
    if not out and option != "--attention":
        raise BadInput(f"{option} {value!r}: at least one value")
    return out


def lia_identity(path: Path):
    """(generator in eval mode, {sha256, config, file}) of a LIA checkpoint."""
    from lia.checkpoint import load_checkpoint
    from lia.lmdm.motion import lia_identity as identity

    loaded = load_checkpoint(path)
    return loaded.generator(), identity(path, loaded.config)


def motion_command(
    clips: Annotated[Path, typer.Option("--clips", help="clips: a `vhq split --out` folder (uses --split), a split CSV, or a folder of clips")],
    ckpt: Annotated[Path, typer.Option("--ckpt", help="the frozen LIA checkpoint (vhq-lia, official vox.pt/taichi.pt, or a generator state_dict)", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", help="folder of motion shards (resumable; one LIA checkpoint per folder)", file_okay=False)],
    split: Annotated[str, typer.Option("--split", help="which list of a split folder")] = "train",
    batch: Annotated[int, typer.Option("--batch", min=1, help="frames per encoder pass")] = 32,
    per_file: Annotated[int, typer.Option("--per-file", min=1, help="clips per shard file")] = 256,
    shard: Annotated[Optional[str], typer.Option("--shard", help="K/N: this machine's share of the clips")] = None,
    device: Annotated[str, typer.Option("--device", help="'auto' (this rank's GPU, else CPU), 'cpu', 'cuda:1' ...")] = DEVICE,
) -> None:
    """The LIA motion code of every frame of every clip (frozen encoder, batched), for `vhq train-lmdm`."""
    from lia.lmdm.motion import extract
    from lia.train.data import find_clips
    from vhq import distributed
    from vhq.io import files
    from vhq.parallel import Shard

    distributed.init()
    the_shard = Shard.parse(shard)
    files.check_writable(out, folder=True)
    found = find_clips(clips, split=split)
    generator, lia = lia_identity(ckpt)
    generator = generator.to(distributed.resolve_device(None if device == DEVICE else device))
    counts = extract(found, generator, lia, out, shard=the_shard, batch=batch, per_file=per_file)
    console.echo(f"{out}: {counts['done']} clip(s) encoded now, {counts['reused']} already done, {counts['failed']} failed "
                 f"(LIA {lia['file']} sha256 {lia['sha256'][:12]}…, {generator.motion_dim} codes per frame)")
    if counts["failed"]:
        raise BadInput(f"{counts['failed']} clip(s) could not be encoded; their reasons are in {out}/status*.csv")


@app.command("train-lmdm")
def train_lmdm(
    motion: Annotated[Path, typer.Option("--motion", help="`vhq lia motion --out` folder")],
    out: Annotated[Path, typer.Option("--out", help="folder of runs: each run goes to OUT/<NNNNN>-<desc>/", file_okay=False)],
    seq_len: Annotated[int, typer.Option("--seq-len", min=2, help="codes per training sequence (paper: 64)")] = LmdmOptions.seq_len,
    stride: Annotated[int, typer.Option("--stride", min=1, help="frames between consecutive codes of a sequence")] = LmdmOptions.stride,
    batch: Annotated[int, typer.Option("--batch", min=1, help="sequences per step over all processes")] = LmdmOptions.batch,
    iters: Annotated[int, typer.Option("--iters", min=0, help="optimiser steps")] = LmdmOptions.iters,
    lr: Annotated[float, typer.Option("--lr", min=0.0, help="Adam learning rate (paper: 1e-4)")] = LmdmOptions.lr,
    ema: Annotated[float, typer.Option("--ema", min=0.0, help="EMA decay per step (0 = off)")] = LmdmOptions.ema,
    channels: Annotated[int, typer.Option("--channels", min=1, help="U-Net base width")] = LmdmOptions.channels,
    mult: Annotated[str, typer.Option("--mult", help="U-Net width multipliers per level")] = ",".join(map(str, LmdmOptions.mult)),
    res_blocks: Annotated[int, typer.Option("--res-blocks", min=1, help="residual blocks per level")] = LmdmOptions.res_blocks,
    attention: Annotated[str, typer.Option("--attention", help="levels with self-attention (0 = full length)")] = ",".join(map(str, LmdmOptions.attention_levels)),
    heads: Annotated[int, typer.Option("--heads", min=1)] = LmdmOptions.heads,
    groups: Annotated[int, typer.Option("--groups", min=1, help="GroupNorm groups")] = LmdmOptions.groups,
    dropout: Annotated[float, typer.Option("--dropout", min=0.0, max=1.0)] = LmdmOptions.dropout,
    diffusion_steps: Annotated[int, typer.Option("--diffusion-steps", min=1, help="DDPM steps (paper: 1000)")] = LmdmOptions.diffusion_steps,
    schedule: Annotated[str, typer.Option("--schedule", help="β schedule: linear (1e-4 → 0.02) or cosine")] = LmdmOptions.schedule,
    seed: Annotated[int, typer.Option("--seed")] = LmdmOptions.seed,
    tick: Annotated[int, typer.Option("--tick", min=1, help="steps per status line and stats row")] = LmdmOptions.tick,
    snap: Annotated[int, typer.Option("--snap", min=1, help="ticks per checkpoint")] = LmdmOptions.snap,
    keep: Annotated[int, typer.Option("--keep", min=0, help="checkpoints kept per run (0 = all)")] = LmdmOptions.keep,
    resume: Annotated[Optional[str], typer.Option("--resume", help="train-lmdm checkpoint to continue exactly, or 'latest' (newest under --out)")] = None,
    device: Annotated[str, typer.Option("--device", help="'auto' (this rank's GPU, else CPU), 'cpu', 'cuda:0' ...")] = DEVICE,
    desc: Annotated[Optional[str], typer.Option("--desc", help="run folder description")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the resolved options and exit")] = False,
    dtype: Annotated[str, typer.Option("--dtype", hidden=True)] = LmdmOptions.dtype,
) -> None:
    """Train LEO's latent motion diffusion model on LIA motion codes (CPU, one GPU, or torchrun)."""

    from lia.lmdm.diffusion import SCHEDULES
    from lia.train.resume import resume_checkpoint
    from vhq import distributed
    from vhq.io import files

    if schedule not in SCHEDULES:
        raise BadInput(f"--schedule {schedule!r}: choose from {', '.join(SCHEDULES)}")
    distributed.init()
    files.check_writable(out, folder=True)
    resume_path = resume_checkpoint(resume, out) if resume is not None else None
    opts = LmdmOptions(motion=str(motion), seq_len=seq_len, stride=stride, batch=batch, iters=iters, lr=lr, ema=ema, channels=channels,
                       mult=_ints(mult, "--mult"), res_blocks=res_blocks, attention_levels=_ints(attention, "--attention"), heads=heads,
                       groups=groups, dropout=dropout, diffusion_steps=diffusion_steps, schedule=schedule, seed=seed, tick=tick, snap=snap,
                       keep=keep, resume=str(resume_path) if resume_path else None, device=None if device == DEVICE else device, dtype=dtype)
    from lia.lmdm.train.loop import check, training_loop

    check(opts)
    record = {**dataclasses.asdict(opts), "mult": list(opts.mult), "attention_levels": list(opts.attention_levels),
              "world_size": distributed.world_size(), "vhq_version": __version__}
    if dry_run:
        console.echo(json.dumps(record, indent=2))
        return
    from lia.train.rundir import leased_runs

    name = desc or f"lmdm-{motion.name or 'motion'}-L{seq_len}-b{batch}" + ("-resume" if resume_path else "")
    with leased_runs(out, name, resume_path) as run_dir:
        summary = training_loop(opts, run_dir=run_dir, recorded=record)
    if summary["checkpoint"]:
        console.echo(summary["checkpoint"])


@app.command("generate")
def generate_command(
    lia: Annotated[Path, typer.Option("--lia", help="LIA checkpoint (the one whose codes the LMDM was trained on)", exists=True, dir_okay=False)],
    lmdm: Annotated[Path, typer.Option("--lmdm", help="LMDM checkpoint from `vhq train-lmdm`", exists=True, dir_okay=False)],
    start: Annotated[Path, typer.Option("--start", help="start image (PNG/JPEG; a video's first frame), or a folder of them", exists=True)],
    out: Annotated[Path, typer.Option("--out", help="output folder: <key>.mp4 per start (lossless) and generate.csv", file_okay=False)],
    frames: Annotated[int, typer.Option("--frames", min=1, help="frames per video (more than the LMDM's sequence length: autoregressive chunks)")] = 64,
    seed: Annotated[int, typer.Option("--seed", help="base seed; each video's seed (recorded) is derived from it and the start's name")] = 0,
    sampler: Annotated[Sampler, typer.Option("--sampler", help="ddpm: ancestral, every step (the paper's); ddim: --steps deterministic steps (not the paper's)")] = Sampler.ddpm,
    steps: Annotated[Optional[int], typer.Option("--steps", min=1, help="--sampler ddim: number of steps")] = None,
    raw: Annotated[bool, typer.Option("--raw-weights", help="use the LMDM's raw weights instead of its EMA")] = False,
    fps: Annotated[float, typer.Option("--fps", min=1.0, help="frame rate written")] = 25.0,
    fmt: Annotated[Format, typer.Option("--format", help="mp4 (H.264 lossless RGB) or png (frame folders), as `vhq bench` predictions")] = Format.mp4,
    batch: Annotated[int, typer.Option("--batch", min=1, help="frames per LIA decoder pass")] = 16,
    device: Annotated[str, typer.Option("--device", help="'auto', 'cpu', 'cuda:0' ...")] = DEVICE,
) -> None:
    """Generate videos from start images with an LMDM and the LIA renderer (LEO's conditional mode)."""
    from lia.lmdm.generate import Sampling, find_starts, generate_videos
    from lia.lmdm.model import load_lmdm
    from vhq import distributed
    from vhq.io import files, lease

    if steps is not None and sampler is not Sampler.ddim:
        raise BadInput("--steps applies to --sampler ddim only (ddpm runs every diffusion step)")
    files.check_writable(out, folder=True)
    starts = find_starts(start)
    model = load_lmdm(lmdm, ema=not raw)
    generator, lia_id = lia_identity(lia)
    if generator.motion_dim != model.motion_dim:
        raise BadInput(f"{lmdm}: models {model.motion_dim}-dimensional codes, {lia} has {generator.motion_dim}")
    if model.lia.get("sha256") not in (None, lia_id["sha256"]):
        console.warn(f"{lmdm} was trained on the codes of another LIA file ({model.lia.get('file')}, sha256 {str(model.lia.get('sha256'))[:12]}…)")
    dev = distributed.resolve_device(None if device == DEVICE else device)
    generator, model.net = generator.to(dev), model.net.to(dev)
    identity = {"lia_sha256": lia_id["sha256"], "lmdm_sha256": files.sha256_file(lmdm)}
    with lease.exclusive_writer(out, folder=True, what="this generate output"):
        done, reused = generate_videos(generator, model, starts, out, frames=frames, seed=seed, sampling=Sampling(sampler.value, steps),
                                       identity=identity, fps=fps, fmt=fmt.value, batch=batch)
    console.echo(f"{out}: {done} video(s) generated now, {reused} kept, {frames} frames each ({Sampling(sampler.value, steps).label()})")
