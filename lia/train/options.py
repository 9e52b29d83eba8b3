"""The options of a LIA training run, each with its one default (``vhq train-lia`` reads them here).

Torch-free, so the command line can import it for its defaults without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainOptions:
    """What :func:`lia.train.loop.training_loop` trains with, in the order runs record it."""

    data: str                            # `vhq split --out` folder, a split CSV or a folder of clips
    sample_data: str | None = None       # clips for sample grids (default: the training clips)
    size: int = 256                      # training resolution (frames are resized to it, bilinear)
    style_dim: int = 512                 # appearance latent size (official 512)
    motion_dim: int = 20                 # motion directions (official 20; = style_dim with dictionary "none")
    dictionary: str = "orthogonal"       # motion dictionary: "orthogonal" (official), "random" (not orthogonalised), "none"
    source_warp: bool = False            # warp and in-paint the source image at full resolution (TPAMI HR model)
    batch: int = 64                      # images per optimiser step, over all processes (official 64)
    batch_gpu: int | None = None         # images per process per accumulation round (default batch / processes)
    iters: int | None = None             # training length in optimiser steps (overrides kimg)
    kimg: float = 51200.0                # training length in thousands of images (official 800k steps × 64)
    lr: float = 0.002                    # base learning rate before the lazy-regularisation scaling
    g_reg_every: int = 4                 # G's lazy-regularisation interval (only rescales lr/betas, as officially)
    d_reg_every: int = 16                # D's lazy-regularisation interval (R1 interval; rescales lr/betas)
    perceptual: str = "vgg19"            # "vgg19" (recipe) or "none" (smoke runs: no VGG weights needed)
    r1_gamma: float = 0.0                # R1 weight γ (0 = off, as in the paper)
    ema_kimg: float = 0.0                # EMA generator half-life in thousands of images (0 = off)
    amp: str = "none"                    # autocast: "bf16", "fp16" (with gradient scaling) or "none"
    dtype: str = "float32"               # parameter dtype ("float64" for exactness tests)
    augment: tuple[str, ...] = ()        # any of "crop", "flip", "jitter" (vox: none; taichi: all three)
    workers: int = 4                     # DataLoader worker processes per rank (0 = decode in the main process)
    seed: int = 0                        # base seed (model init, data order; rank r's RNGs get seed·W + r)
    kimg_per_tick: float = 4.0           # status line, stats and sample grid every this many kimg
    snap_ticks: int = 16                 # checkpoint every this many ticks (and at the end)
    keep: int = 5                        # checkpoints kept in the run folder (0 = all)
    eval_every: int = 0                  # run the scorer every this many ticks (0 = never)
    sample_count: int = 4                # rows of the sample grid
    resume: str | None = None            # training checkpoint to continue from (exact resume)
    init_from: str | None = None         # official or vhq-lia weights to start from (fresh optimisers)
    device: str | None = None            # "cpu", "cuda", "cuda:1" (None: this rank's GPU, else CPU)
