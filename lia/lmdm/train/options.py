"""The options of an LMDM training run, each with its one default (torch-free: the command line reads them).

``paper``: stated by LEO. ``vhq``: chosen here where the paper is silent (docs/lmdm.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LmdmOptions:
    motion: str                              # `vhq lia motion --out` folder
    seq_len: int = 64                        # paper: 64-code sequences
    stride: int = 1                          # vhq: frames between consecutive codes of a training window
    batch: int = 64                          # vhq: sequences per step over all processes
    iters: int = 200_000                     # vhq: optimiser steps
    lr: float = 1e-4                         # paper
    ema: float = 0.9999                      # vhq: EMA decay per step (0 = off; generate then uses the raw weights)
    channels: int = 128                      # vhq: U-Net base width
    mult: tuple[int, ...] = (1, 2, 4)        # vhq: U-Net width multipliers per level
    res_blocks: int = 2                      # vhq
    attention_levels: tuple[int, ...] = (1, 2)  # vhq: self-attention at T/2 and T/4
    heads: int = 4                           # vhq
    groups: int = 32                         # vhq: GroupNorm groups
    dropout: float = 0.0                     # vhq
    diffusion_steps: int = 1000              # paper
    schedule: str = "linear"                 # vhq: β 1e-4 → 0.02 (Ho et al.)
    seed: int = 0
    tick: int = 500                          # steps per status line / stats row
    snap: int = 10                           # ticks per checkpoint (and at the end)
    keep: int = 5                            # checkpoints kept (0 = all)
    resume: str | None = None
    device: str | None = None
    dtype: str = "float32"                   # "float64" for exactness tests
