"""The LMDM training loop (``vhq train-lmdm``): Adam on the LMC ε-loss, EMA, ticks, checkpoints, exact resume.

The run folder, log, stats, TensorBoard and checkpoint rotation are train-lia's (``lia.train.rundir``,
``lia.train.resume``). ``checkpoint-<step>.pt`` is a vhq-lmdm file (``lia.lmdm.model``) that
``vhq generate`` reads directly, plus ``optim``, ``step``, ``options`` and ``data_fingerprint``. All
randomness of a step (windows, timesteps, noise, dropout) derives from ``(seed, step)``, so a run
killed at any point and resumed from its last checkpoint ends bit for bit where an uninterrupted run ends.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import torch

from lia.lmdm.diffusion import Diffusion, DiffusionConfig, lmc_loss
from lia.lmdm.model import read_lmdm, save_lmdm
from lia.lmdm.motion import read_motion
from lia.lmdm.train.data import Windows
from lia.lmdm.train.options import LmdmOptions
from lia.lmdm.unet import UNet1D, UNetConfig
from lia.train.loop import sync_gradients
from lia.train.resume import checkpoint_name, prune_checkpoints
from lia.train.rundir import RunLog, memory_gb, status_line
from vhq import distributed
from vhq.errors import BadInput

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def unet_config(opts: LmdmOptions, motion_dim: int) -> UNetConfig:
    return UNetConfig(motion_dim=motion_dim, channels=opts.channels, mult=tuple(opts.mult), res_blocks=opts.res_blocks,
                      attention_levels=tuple(opts.attention_levels), heads=opts.heads, groups=opts.groups, dropout=opts.dropout)


def check(opts: LmdmOptions) -> None:
    if opts.dtype not in DTYPES:
        raise BadInput(f"dtype {opts.dtype!r}: choose from {', '.join(DTYPES)}")
    factor = 2 ** (len(opts.mult) - 1)
    if opts.seq_len < 2 or opts.seq_len % factor:
        raise BadInput(f"--seq-len {opts.seq_len}: must be >= 2 and divisible by {factor} (2^(levels-1) of --mult {','.join(map(str, opts.mult))})")
    if opts.channels % opts.groups or (opts.channels * min(opts.mult)) % opts.groups:
        raise BadInput(f"--channels {opts.channels} must be divisible by --groups {opts.groups}")
    if any(not 0 <= a < len(opts.mult) for a in opts.attention_levels):
        raise BadInput(f"--attention {','.join(map(str, opts.attention_levels))}: levels are 0..{len(opts.mult) - 1}")
    if opts.channels % opts.heads:
        raise BadInput(f"--channels {opts.channels} must be divisible by --heads {opts.heads}")
    if not 0.0 <= opts.ema < 1.0:
        raise BadInput(f"--ema {opts.ema}: a decay in [0, 1)")


def training_loop(opts: LmdmOptions, *, run_dir: Path | Callable[[], Path] | None, recorded: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train an LMDM; returns a summary (step, last stats, last checkpoint, run folder). Call on every rank."""
    check(opts)
    rank, world = distributed.rank(), distributed.world_size()
    dev = distributed.resolve_device(opts.device)
    fdtype = DTYPES[opts.dtype]
    recorded = dict(recorded) if recorded is not None else dataclasses.asdict(opts)
    codes, lia = read_motion(opts.motion)
    windows = Windows(codes, opts.seq_len, opts.stride, opts.motion)
    fingerprint = windows.fingerprint()
    motion_dim = windows.codes[0].shape[1]
    if opts.batch % world:
        raise BadInput(f"--batch {opts.batch} must be a multiple of the {world} processes")

    torch.manual_seed(opts.seed)
    net = UNet1D(unet_config(opts, motion_dim)).to(dev, fdtype).train()
    diffusion = Diffusion(DiffusionConfig(steps=opts.diffusion_steps, schedule=opts.schedule))
    opt = torch.optim.Adam(net.parameters(), lr=opts.lr)
    ema = copy.deepcopy(net).eval().requires_grad_(False) if opts.ema > 0 else None
    norm = windows.norm
    step = 0
    moved = False
    if opts.resume is not None:
        state = read_lmdm(opts.resume)
        if state["config"]["unet"] != net.cfg.to_dict() or int(state["config"]["seq_len"]) != opts.seq_len or state["config"]["diffusion"] != diffusion.cfg.to_dict():
            raise BadInput(f"--resume {opts.resume}: trained with {state['config']}, not these options", hint="resume with the run's own options (its training_options.json)")
        if "optim" not in state or "step" not in state:
            raise BadInput(f"{opts.resume}: not a train-lmdm checkpoint (no optimiser state or step)")
        net.load_state_dict(state["model"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optim"])
        step = int(state["step"])
        norm = type(norm)(state["norm"]["mean"].float(), state["norm"]["std"].float())
        windows.norm = norm
        moved = state.get("data_fingerprint") not in (None, fingerprint)
    if distributed.is_distributed():
        for t in net.state_dict().values():
            torch.distributed.broadcast(t, src=0)

    run_path = None
    if run_dir is not None and rank == 0:
        run_path = Path(run_dir() if callable(run_dir) else run_dir)
        run_path.mkdir(parents=True, exist_ok=True)
        recorded["run_dir"] = str(run_path)
    log = RunLog(run_path, opts.iters, step, label="train-lmdm")
    log.write_options(recorded)
    log.line(f"train-lmdm: {len(windows.keys)} clips ({fingerprint}; {windows.short} shorter than {windows.span} frames skipped), "
             f"{len(windows)} windows of {opts.seq_len} codes, batch {opts.batch} = {world} process(es), {opts.iters} steps, "
             f"{sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters, device {dev}")
    if opts.resume is not None:
        log.line(f"resumed from {opts.resume} at step {step}" + (" (the motion codes changed; the checkpoint's normalisation is kept)" if moved else ""))

    def save(at: int) -> Path | None:
        path = None
        if run_path is not None:
            path = save_lmdm(run_path / checkpoint_name(at), net, diffusion, opts.seq_len, norm, lia, ema=ema,
                             optim=opt.state_dict(), step=at, options=recorded, data_fingerprint=fingerprint)
            prune_checkpoints(run_path, opts.keep)
        distributed.barrier()
        return path

    tick = step // opts.tick
    tick_start, tick_time, start_time = step, time.time(), time.time()
    losses: list[torch.Tensor] = []
    last_stats: dict[str, Any] = {}
    last_ckpt = None
    try:
        while step < opts.iters:
            seqs, t, noise = windows.batch(opts.seed, step, opts.batch, opts.diffusion_steps, rank, world)
            torch.manual_seed(opts.seed * 1_000_003 + step)  # dropout
            opt.zero_grad(set_to_none=True)
            loss = lmc_loss(net, diffusion, seqs.to(dev, fdtype), t.to(dev), noise.to(dev, fdtype))
            (loss * (seqs.shape[0] / opts.batch)).backward()
            sync_gradients(net)
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    for pe, p in zip(ema.parameters(), net.parameters()):
                        pe.lerp_(p.detach(), 1.0 - opts.ema)
            losses.append(loss.detach().to(torch.float64).cpu() * seqs.shape[0] / opts.batch)
            step += 1
            log.advance(step)
            if step - tick_start < opts.tick and step < opts.iters:
                continue
            tick += 1
            now = time.time()
            mean = distributed.all_reduce_sum(torch.stack(losses).sum().reshape(1).to(dev)).cpu() / len(losses)
            losses = []
            fields = {"tick": tick, "step": step, "kimg": round(step * opts.batch / 1000, 3), "time_s": round(now - start_time, 1),
                      "sec_per_tick": round(now - tick_time, 2), **{k: round(v, 3) for k, v in memory_gb(dev).items()}}
            record = {**fields, "Loss/eps": float(mean)}
            log.line(status_line({**fields, "loss": float(mean)}))
            log.stats(record, step)
            last_stats = record
            if tick % opts.snap == 0 or step == opts.iters:
                last_ckpt = save(step)
            tick_start, tick_time = step, time.time()
    finally:
        log.close()
    return {"step": step, "stats": last_stats, "checkpoint": str(last_ckpt) if last_ckpt else None, "run_dir": str(run_path) if run_path else None}
