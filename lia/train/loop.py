"""The LIA training loop (``vhq train-lia``): the official recipe without its bugs.

Recipe (official ``train.py``/``trainer.py`` at commit ``1091c2d``): per step a generator phase
``L_G = VGG + L1 + softplus(-D(x̂))`` and a discriminator phase
``L_D = softplus(-D(x_d)) + softplus(D(x̂))`` on the reconstruction from before the generator's
update; Adam with StyleGAN2's lazy-regularisation scaling (G: lr·4/5, betas (0, 0.99^(4/5)); D:
lr·16/17, betas (0, 0.99^(16/17))); no R1, no EMA (both available here, off by default).

Launch the same way everywhere::

    vhq train-lia --data SPLIT --out RUNS                       # CPU or one GPU
    torchrun --nproc_per_node 8 -m cli train-lia --data SPLIT --out RUNS   # or the vhq script

Differences from the original code (its bugs): any number of processes (it asserted ≥ 2 GPUs);
every epoch reshuffles (``set_epoch`` was never called); colour jitter applies all four ops; no
DDP ``find_unused_parameters``: G and D are plain modules and each phase all-reduces its
gradients once as one flattened tensor (as StyleGAN3 does). ``batch`` is global; a step is
``W`` processes × ``R`` accumulation rounds of ``batch_gpu`` images, and the discriminator's
minibatch-stddev groups stay within a round, so the result does not depend on how the batch is
spread over processes and rounds.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from lia.checkpoint import load_checkpoint, warm_start
from lia.discriminator import Discriminator
from lia.generator import Generator, normalized_config
from lia.train import data as D_
from lia.train import losses, resume
from lia.train.options import TrainOptions
from lia.train.rundir import RunLog, memory_gb, status_line
from vhq import distributed
from vhq.errors import BadInput
from vhq.io import video

Scorer = Callable[[torch.nn.Module], dict[str, float]]
DTYPES = {"float32": torch.float32, "float64": torch.float64}
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def adam_settings(lr: float, reg_every: int) -> tuple[float, tuple[float, float]]:
    """StyleGAN2's lazy-regularisation scaling of lr and betas (``ratio = k / (k + 1)``)."""
    ratio = reg_every / (reg_every + 1)
    return lr * ratio, (0.0**ratio, 0.99**ratio)


def sync_gradients(module: torch.nn.Module, nan_to_num: bool = True) -> None:
    """Sum the gradients of ``module`` over ranks with one all-reduce of a flattened tensor."""
    params = [p for p in module.parameters() if p.grad is not None]
    if not params:
        return
    if distributed.is_distributed():
        flat = torch.cat([p.grad.flatten() for p in params])
        distributed.all_reduce_sum(flat)
        for p, g in zip(params, flat.split([p.numel() for p in params])):
            p.grad.copy_(g.reshape(p.shape))
    if nan_to_num:
        for p in params:
            torch.nan_to_num(p.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=p.grad)


class Phases:
    """The per-step phases (G main, D main, optional lazy R1) with their losses and statistics.

    ``step(rounds)`` takes this process's rounds of uint8 pairs ``[batch_gpu, 2, 3, S, S]``; each
    round's losses are scaled by ``1 / (W·R)`` so the summed gradients are the global batch mean.
    """

    def __init__(self, G, D, g_opt, d_opt, perceptual, *, dtype, amp, device, world, r1_gamma=0.0, d_reg_every=16, ema=None, ema_beta=0.0):
        self.G, self.D, self.g_opt, self.d_opt, self.perceptual = G, D, g_opt, d_opt, perceptual
        self.dtype, self.device, self.world = dtype, device, world
        self.amp = amp
        self.r1_gamma, self.d_reg_every = r1_gamma, d_reg_every
        self.ema, self.ema_beta = ema, ema_beta
        fp16 = amp == "fp16"
        self.scaler_g = torch.amp.GradScaler(device.type, enabled=fp16)
        self.scaler_d = torch.amp.GradScaler(device.type, enabled=fp16)
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def autocast(self):
        return torch.autocast(self.device.type, dtype=AMP_DTYPES.get(self.amp, torch.bfloat16), enabled=self.amp in AMP_DTYPES)

    def _record(self, name: str, value: torch.Tensor) -> None:
        v = value.detach().to(torch.float64).cpu()
        self.sums[name] = self.sums.get(name, torch.zeros((), dtype=torch.float64)) + v
        self.counts[name] = self.counts.get(name, 0) + 1

    def reduced_stats(self) -> dict[str, float]:
        """Mean of every recorded loss over the tick and all ranks (a collective); then reset."""
        names = sorted(self.sums)
        if not names:
            return {}
        flat = torch.stack([torch.stack([self.sums[n], torch.tensor(float(self.counts[n]), dtype=torch.float64)]) for n in names])
        flat = distributed.all_reduce_sum(flat.to(self.device)).cpu()
        self.sums, self.counts = {}, {}
        return {n: float(s / c) for n, (s, c) in zip(names, flat)}

    def _inputs(self, pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = D_.to_model_input(pairs.to(self.device, non_blocking=True), self.dtype)
        return x[:, 0], x[:, 1]

    def step(self, rounds: list[torch.Tensor], step: int) -> None:
        G, D = self.G, self.D
        scale = 1.0 / (self.world * len(rounds))
        inputs = [self._inputs(r) for r in rounds]

        # G main: reconstruct the driving frame from the source's appearance and the driving motion.
        G.requires_grad_(True)
        D.requires_grad_(False)
        self.g_opt.zero_grad(set_to_none=True)
        fakes = []
        for src, drv in inputs:
            with self.autocast():
                fake = G(src, drv)
                l1 = F.l1_loss(fake, drv)
                adv = losses.g_nonsaturating(D(fake))
                loss = l1 + adv
                if self.perceptual is not None:
                    vgg = self.perceptual(fake, drv)
                    loss = loss + vgg
                    self._record("Loss/G/vgg", vgg)
            self.scaler_g.scale(loss * scale).backward()
            fakes.append(fake.detach())
            self._record("Loss/G/l1", l1)
            self._record("Loss/G/adv", adv)
            self._record("Loss/G/total", loss)
        self._finish(G, self.g_opt, self.scaler_g)
        if self.ema is not None:
            with torch.no_grad():
                for pe, p in zip(self.ema.parameters(), G.parameters()):
                    pe.lerp_(p.detach(), 1.0 - self.ema_beta)

        # D main: real driving frames against the reconstructions made before G's update.
        G.requires_grad_(False)
        D.requires_grad_(True)
        self.d_opt.zero_grad(set_to_none=True)
        for (src, drv), fake in zip(inputs, fakes):
            with self.autocast():
                real_term, fake_term = losses.d_logistic(D(drv), D(fake))
                loss = real_term + fake_term
            self.scaler_d.scale(loss * scale).backward()
            self._record("Loss/D/real", real_term)
            self._record("Loss/D/fake", fake_term)
            self._record("Loss/D/total", loss)
        self._finish(D, self.d_opt, self.scaler_d)

        # D reg (lazy R1, off by default): every d_reg_every steps, weighted by the interval.
        if self.r1_gamma > 0 and step % self.d_reg_every == 0:
            self.d_opt.zero_grad(set_to_none=True)
            for src, drv in inputs:
                real = drv.detach().requires_grad_(True)
                with self.autocast():
                    logits = D(real)
                penalty = losses.r1_penalty(logits.float(), real)
                self.scaler_d.scale(penalty * (self.r1_gamma / 2 * self.d_reg_every * scale)).backward()
                self._record("Loss/D/r1", penalty)
            self._finish(D, self.d_opt, self.scaler_d)
        D.requires_grad_(False)

    def _finish(self, module, opt, scaler) -> None:
        sync_gradients(module, nan_to_num=not scaler.is_enabled())
        scaler.step(opt)
        scaler.update()


def _sample_grid(G, pairs: torch.Tensor, phases: Phases) -> torch.Tensor:
    """uint8 ``[n·S, 3·S, 3]``: a row per pair, columns source | driving | reconstruction."""
    with torch.no_grad(), phases.autocast():
        src, drv = phases._inputs(pairs)
        rec = G(src, drv).float().clamp(-1, 1)
    cols = [src.float(), drv.float(), rec]
    img = torch.cat(cols, dim=3)  # [n, 3, S, 3S]
    img = torch.cat(list(img), dim=1)  # [3, nS, 3S]
    return ((img + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu()


def training_loop(
    opts: TrainOptions,
    *,
    run_dir: str | Path | Callable[[], Path] | None,  # run folder, or a function making it once inputs check out (rank 0 only)
    scorer: Scorer | None = None,        # called as scorer(G) on every rank; returns {metric: value}
    recorded: dict[str, Any] | None = None,  # options written to the run folder and checkpoints (plain dict; default: opts)
) -> dict[str, Any]:
    """Train LIA; returns a summary (final step, images seen, last stats, last checkpoint path).

    Call on every rank (after ``vhq.distributed.init()``); only rank 0 writes into ``run_dir``.
    """
    rank, world = distributed.rank(), distributed.world_size()
    dev = distributed.resolve_device(opts.device)
    size, batch, perceptual, amp = opts.size, opts.batch, opts.perceptual, opts.amp
    if opts.dtype not in DTYPES:
        raise BadInput(f"dtype {opts.dtype!r}: choose from {', '.join(DTYPES)}")
    if amp not in ("none", *AMP_DTYPES):
        raise BadInput(f"--amp {amp!r}: choose from bf16, fp16, none")
    if amp != "none" and opts.dtype != "float32":
        raise BadInput("--amp needs float32 parameters")
    if perceptual not in ("vgg19", "none"):
        raise BadInput(f"--perceptual {perceptual!r}: choose from vgg19, none")
    if perceptual == "vgg19" and size < losses.MIN_PERCEPTUAL_SIZE:
        raise BadInput(f"--size {size}: the VGG pyramid loss needs --size >= {losses.MIN_PERCEPTUAL_SIZE} (or --perceptual none)")
    bgpu = opts.batch_gpu or batch // world
    if batch % world or bgpu < 1 or batch % (world * bgpu):
        raise BadInput(f"--batch {batch} must be a multiple of the {world} processes × --batch-gpu {bgpu}")
    rounds = batch // (world * bgpu)
    total_steps = int(opts.iters) if opts.iters is not None else math.ceil(opts.kimg * 1000 / batch)
    fdtype = DTYPES[opts.dtype]
    recorded = dict(recorded) if recorded is not None else dataclasses.asdict(opts)

    # Data first: a bad dataset fails before any model is built.
    clips = D_.find_clips(opts.data)
    sample_clips = D_.find_clips(opts.sample_data) if opts.sample_data else clips
    dataset = D_.FramePairs(clips, size, opts.augment)
    fingerprint = D_.clips_fingerprint(clips)
    perceptual_loss = losses.VGGPerceptualLoss(losses.vgg19_from_registry()).to(dev, fdtype) if perceptual == "vgg19" else None

    # Models: identical initialisation on every rank, then per-rank seeds.
    torch.manual_seed(opts.seed)
    G = Generator(size, opts.style_dim, opts.motion_dim, dictionary=opts.dictionary, source_warp=opts.source_warp)
    Dnet = Discriminator(size)
    if opts.init_from is not None:
        ck = load_checkpoint(opts.init_from)
        have, want = normalized_config(ck.config), G.full_config
        if want["source_warp"]:  # a plain model may start a source-warp one (the new layers start at zero)
            have["source_warp"] = True
        if have != want:
            raise BadInput(f"--init-from {opts.init_from}: its generator config {ck.config} does not match " + ", ".join(f"{k}={v}" for k, v in G.config.items()))
        warm_start(G, ck.gen, opts.init_from)
        if ck.dis is not None:
            Dnet.load_state_dict(ck.dis, strict=True)
    G, Dnet = G.to(dev, fdtype).train(), Dnet.to(dev, fdtype).train()
    g_lr, g_betas = adam_settings(opts.lr, opts.g_reg_every)
    d_lr, d_betas = adam_settings(opts.lr, opts.d_reg_every)
    g_opt = torch.optim.Adam(G.parameters(), lr=g_lr, betas=g_betas, eps=1e-8)
    d_opt = torch.optim.Adam(Dnet.parameters(), lr=d_lr, betas=d_betas, eps=1e-8)
    ema = copy.deepcopy(G).eval().requires_grad_(False) if opts.ema_kimg > 0 else None
    ema_beta = 0.5 ** (batch / (opts.ema_kimg * 1000)) if opts.ema_kimg > 0 else 0.0
    phases = Phases(G, Dnet, g_opt, d_opt, perceptual_loss, dtype=fdtype, amp=amp, device=dev, world=world,
                    r1_gamma=opts.r1_gamma, d_reg_every=opts.d_reg_every, ema=ema, ema_beta=ema_beta)

    resumed = resume.restore(opts.resume, phases, options=recorded, fingerprint=fingerprint) if opts.resume is not None else None
    start_step = resumed.step if resumed else 0
    if distributed.is_distributed():
        for t in [*G.state_dict().values(), *Dnet.state_dict().values()]:
            torch.distributed.broadcast(t, src=0)
    if resumed is None or not resumed.rng_restored:
        resume.seed_rngs(opts.seed)

    sampler = D_.PairSampler([c.frames for c in clips], batch, opts.seed, rank=rank, world=world, rounds=rounds, start_step=start_step)
    loader = D_.make_loader(dataset, sampler, opts.workers, pin_memory=dev.type == "cuda")
    sample_set = D_.FramePairs(sample_clips, size)

    run_path = None
    if run_dir is not None and rank == 0:
        run_path = Path(run_dir() if callable(run_dir) else run_dir)
        run_path.mkdir(parents=True, exist_ok=True)
        recorded["run_dir"] = str(run_path)
    sample_pairs = torch.stack([sample_set.load(k) for k in D_.fixed_pairs(sample_clips, opts.sample_count)]) if run_path is not None else None
    log = RunLog(run_path, total_steps, start_step)
    log.write_options(recorded)
    log.line(f"train-lia: {len(clips)} clips ({fingerprint}), size {size}, batch {batch} = {world} process(es) x {rounds} round(s) x {bgpu}, "
             f"{total_steps} steps ({total_steps * batch / 1000:g} kimg), perceptual {perceptual}, amp {amp}, device {dev}")
    if resumed is not None:
        log.line(resumed.line())

    def save(step: int) -> Path | None:
        return resume.save(run_path, phases, step=step, batch=batch, keep=opts.keep, options=recorded, perceptual=perceptual, fingerprint=fingerprint)

    step = start_step
    tick = 0
    tick_start_step = step
    tick_start_time = start_time = time.time()
    last_stats: dict[str, Any] = {}
    last_ckpt = None
    maintenance = 0.0  # checkpoint time of the previous tick (reported with the next status line)
    batches = iter(loader)
    try:
        while step < total_steps:
            rounds_data = [D_.check_batch(next(batches)) for _ in range(rounds)]
            phases.step(rounds_data, step)
            step += 1
            log.advance(step, f"kimg {step * batch / 1000:.1f}")
            tick_done = (step - tick_start_step) * batch >= opts.kimg_per_tick * 1000 or step == total_steps
            if not tick_done:
                continue
            tick += 1
            now = time.time()
            tick_images = (step - tick_start_step) * batch
            stats = phases.reduced_stats()
            grid = None
            if run_path is not None:
                grid = _sample_grid(ema if ema is not None else G, sample_pairs, phases)
                video.write_image(run_path / f"samples-{step:07d}.png", grid)
            scores = {}
            if scorer is not None and opts.eval_every > 0 and tick % opts.eval_every == 0:
                scores = {f"Metrics/{k}": v for k, v in scorer(ema if ema is not None else G).items()}
            fields = {
                "tick": tick, "step": step, "kimg": round(step * batch / 1000, 3),
                "epoch": round(sampler.epoch_of(step), 3),
                "time_s": round(now - start_time, 1), "sec_per_tick": round(now - tick_start_time, 2),
                "sec_per_kimg": round((now - tick_start_time) / max(tick_images, 1) * 1000, 2),
                "maintenance_s": round(maintenance + time.time() - now, 2),
                **{k: round(v, 3) for k, v in memory_gb(dev).items()},
            }
            record = {**fields, **stats, **scores}
            log.line(status_line({**{k: v for k, v in fields.items() if k != "epoch"},
                                  **{k.split("/", 1)[1].replace("/", "_").lower(): v for k, v in {**stats, **scores}.items()}}))
            log.stats(record, step * batch, {"Progress/lr_G": g_opt.param_groups[0]["lr"], "Progress/lr_D": d_opt.param_groups[0]["lr"]}, grid)
            last_stats = record
            maint_start = time.time()
            if tick % opts.snap_ticks == 0 or step == total_steps:
                last_ckpt = save(step)
            maintenance = time.time() - maint_start
            tick_start_step, tick_start_time = step, time.time()
    finally:
        del batches
        log.close()
    return {"step": step, "images": step * batch, "stats": last_stats, "checkpoint": str(last_ckpt) if last_ckpt else None, "run_dir": str(run_path) if run_path else None}
