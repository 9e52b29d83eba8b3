"""Tiny LMDMs, synthetic periodic motion in the real shard format, and a 64 px random-init LIA in the official format."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

# A U-Net of ~0.1 M parameters over 4-dimensional codes: seconds on a CPU.
TINY_ARGS = ["--channels", "16", "--mult", "1,2", "--res-blocks", "1", "--attention", "1", "--groups", "8", "--heads", "2"]
LIA_INFO = {"sha256": "0" * 64, "config": {"size": 64, "style_dim": 512, "motion_dim": 4}, "file": "synthetic.pt"}


def tiny_unet(motion_dim: int = 4, seed: int = 0, perturb: bool = True):
    """A tiny random-init U-Net; ``perturb`` gives its zero-initialised layers random weights (so ε̂ ≠ 0)."""
    from lia.lmdm.unet import UNet1D, UNetConfig

    torch.manual_seed(seed)
    net = UNet1D(UNetConfig(motion_dim=motion_dim, channels=16, mult=(1, 2), res_blocks=1, attention_levels=(1,), heads=2, groups=8))
    if perturb:
        with torch.no_grad():
            for p in net.parameters():
                if not p.any():
                    p.normal_(0.0, 0.05)
    return net.eval()


def periodic_codes(clips: int, frames: int, dim: int = 4, period: float = 16.0, seed: int = 0) -> dict[str, torch.Tensor]:
    """Sinusoid "motion": per clip random phases, amplitude growing with the dimension."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(frames, dtype=torch.float64)
    out = {}
    for c in range(clips):
        phase = torch.rand(dim, generator=g, dtype=torch.float64) * 2 * math.pi
        out[f"clip{c:02d}"] = torch.stack([(d + 1) * torch.sin(2 * math.pi * t / period + phase[d]) for d in range(dim)], 1).float()
    return out


@pytest.fixture
def periodic_motion(tmp_path) -> Path:
    """A `vhq lia motion` folder of 4 clips × 120 frames of periodic codes."""
    from lia.lmdm.motion import write_shard

    folder = tmp_path / "motion"
    folder.mkdir()
    codes = periodic_codes(4, 120)
    write_shard(folder / "motion-1-of-1-00000.pt", LIA_INFO, codes, {k: 25.0 for k in codes})
    return folder


@pytest.fixture(scope="session")
def lia64(tmp_path_factory) -> Path:
    """A random-init 64 px LIA generator saved like the official files: ``{"gen": state_dict}``."""
    from lia import Generator

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("lia") / "lia64.pt"
    torch.save({"gen": Generator(64).state_dict()}, path)
    return path
