"""Seconds per training step of ``vhq train-lia`` against the official step, on CPU, in the same run.

The baseline restates the official ``trainer.py`` step (DDP off): G forward, the official VGGLoss
(real and fake pyramids both through VGG19 with a graph, real features detached afterwards), L1,
non-saturating GAN loss, ``G.zero_grad(); backward(); step()``, then D on the real frames and the
detached reconstruction. Ours is ``lia.train.Phases.step`` (uint8 pairs in, the real image's VGG
features without a graph, gradients set to None, the per-phase gradient sync, which is a no-op in
one process). Same models, same random-init weights, same inputs; each variant runs in its own
forked process so its peak resident memory is its own.

    python benchmarks/lia_train.py [--size 256] [--batch 2] [--iters 3] [--warmup 1] [--threads 2]

``--source-warp`` instead compares two vhq steps: the plain model against the same model with the
source-warp branch (the paper's improved high-resolution model; the extra layers should cost < 5 %)::

    python benchmarks/lia_train.py --source-warp --size 512 --batch 1 --iters 2 [--device cuda]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import resource
import time

import torch
import torch.nn.functional as F

from lia import Discriminator, Generator
from lia.train import losses
from lia.train.loop import Phases, adam_settings


def build(size: int, source_warp: bool = False):
    torch.manual_seed(0)
    G, D = Generator(size, source_warp=source_warp).train(), Discriminator(size).train()
    vgg = losses.vgg19_features()
    g_lr, g_b = adam_settings(0.002, 4)
    d_lr, d_b = adam_settings(0.002, 16)
    return G, D, vgg, torch.optim.Adam(G.parameters(), lr=g_lr, betas=g_b), torch.optim.Adam(D.parameters(), lr=d_lr, betas=d_b)


def official_vgg_loss(pyramid, features, fake, real):
    mean = torch.tensor(losses.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(losses.IMAGENET_STD).view(1, 3, 1, 1)

    def vgg(x):
        h = ((x.clamp(-1, 1) + 1) / 2 - mean) / std
        out = []
        for a, b in losses.VGG_SLICES:
            h = features[a:b](h)
            out.append(h)
        return out

    loss = 0
    for pf, pr in zip(pyramid(fake), pyramid(real)):
        for xf, yr in zip(vgg(pf), vgg(pr)):
            loss = loss + 10 * torch.abs(xf - yr.detach()).mean()
    return loss


def requires_grad(m, flag):
    for p in m.parameters():
        p.requires_grad = flag


def run_official(size, pairs, iters, warmup):
    G, D, features, g_opt, d_opt = build(size)
    for p in features.parameters():
        p.requires_grad_(False)
    pyramid = losses.ImagePyramid()
    x = pairs.float() / 255 * 2 - 1
    src, drv = x[:, 0], x[:, 1]
    times = []
    for i in range(warmup + iters):
        t = time.perf_counter()
        requires_grad(G, True)
        requires_grad(D, False)
        recon = G(src, drv)
        g_loss = official_vgg_loss(pyramid, features, recon, drv) + F.l1_loss(recon, drv) + F.softplus(-D(recon)).mean()
        G.zero_grad()
        g_loss.backward()
        g_opt.step()
        requires_grad(G, False)
        requires_grad(D, True)
        d_loss = F.softplus(-D(drv)).mean() + F.softplus(D(recon.detach())).mean()
        D.zero_grad()
        d_loss.backward()
        d_opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return times


def run_ours(size, pairs, iters, warmup, source_warp=False, device="cpu"):
    dev = torch.device(device)
    G, D, features, g_opt, d_opt = build(size, source_warp)
    G, D = G.to(dev), D.to(dev)
    g_opt, d_opt = (torch.optim.Adam(m.parameters(), lr=o.param_groups[0]["lr"], betas=o.param_groups[0]["betas"]) for m, o in ((G, g_opt), (D, d_opt)))
    phases = Phases(G, D, g_opt, d_opt, losses.VGGPerceptualLoss(features).to(dev), dtype=torch.float32, amp="none", device=dev, world=1)
    times = []
    for i in range(warmup + iters):
        t = time.perf_counter()
        phases.step([pairs], i)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return times


def run_source_warp(size, pairs, iters, warmup, device="cpu"):
    return run_ours(size, pairs, iters, warmup, source_warp=True, device=device)


def child(fn, size, batch, iters, warmup, threads, queue, **kw):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    pairs = torch.randint(0, 256, (batch, 2, 3, size, size), dtype=torch.uint8)
    times = fn(size, pairs, iters, warmup, **kw)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    if kw.get("device", "cpu").startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**30
    queue.put((times, peak))


def measure(fn, args, **kw) -> tuple[list[float], float]:
    ctx = mp.get_context("spawn" if kw.get("device", "cpu").startswith("cuda") else "fork")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(fn, *args, q), kwargs=kw)
    p.start()
    while True:
        try:
            out = q.get(timeout=5)
            break
        except queue.Empty:
            if not p.is_alive():
                raise SystemExit(f"{fn.__name__}: the measuring process died (exit code {p.exitcode}; a traceback above, or killed: out of memory?)") from None
    p.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--source-warp", action="store_true", help="compare the source-warp model's step with the plain model's (both vhq)")
    ap.add_argument("--device", default="cpu", help="with --source-warp: cpu or cuda")
    a = ap.parse_args()
    args = (a.size, a.batch, a.iters, a.warmup, a.threads)
    if a.source_warp:
        compare_source_warp(a, args)
        return
    print(f"LIA training step, size {a.size}, batch {a.batch}, CPU, {a.threads} thread(s), {a.warmup} warm-up + {a.iters} timed steps each")
    base_t, base_mem = measure(run_official, args)
    ours_t, ours_mem = measure(run_ours, args)
    b, o = sum(base_t) / len(base_t), sum(ours_t) / len(ours_t)
    print(f"official step (restated): {b:7.2f} s/step  (steps {', '.join(f'{t:.2f}' for t in base_t)})  peak RSS {base_mem:.2f} GiB")
    print(f"vhq Phases.step:          {o:7.2f} s/step  (steps {', '.join(f'{t:.2f}' for t in ours_t)})  peak RSS {ours_mem:.2f} GiB")
    print(f"ratio vhq/official: {o / b:.3f} (time), {ours_mem / base_mem:.3f} (peak memory)")


def compare_source_warp(a, args) -> None:
    unit = "GiB peak allocated" if a.device.startswith("cuda") else "GiB peak RSS"
    print(f"LIA training step (vhq Phases.step, VGG19 pyramid on), size {a.size}, batch {a.batch}, {a.device}, {a.threads} thread(s), {a.warmup} warm-up + {a.iters} timed steps each")
    plain_t, plain_mem = measure(run_ours, args, device=a.device)
    sw_t, sw_mem = measure(run_source_warp, args, device=a.device)
    b, o = sum(plain_t) / len(plain_t), sum(sw_t) / len(sw_t)
    print(f"plain LIA-{a.size}:  {b:8.3f} s/step  (steps {', '.join(f'{t:.3f}' for t in plain_t)})  {plain_mem:.2f} {unit}")
    print(f"--source-warp: {o:8.3f} s/step  (steps {', '.join(f'{t:.3f}' for t in sw_t)})  {sw_mem:.2f} {unit}")
    print(f"ratio source-warp/plain: {o / b:.3f} (time), {sw_mem / plain_mem:.3f} (memory)")


if __name__ == "__main__":
    main()
