"""An LMDM: its U-Net, diffusion, code normalisation and the LIA it was trained on; the vhq-lmdm file.

``vhq-lmdm`` checkpoint (``torch.load(weights_only=True)``)::

    {"format": "vhq-lmdm", "version": 1,
     "config": {"unet": {...}, "diffusion": {...}, "seq_len": 64},
     "norm": {"mean": [D], "std": [D]},           # per-dimension code standardisation
     "lia": {"sha256": ..., "config": {...}},      # the LIA whose codes it models
     "model": <state_dict>, "ema": <state_dict>,
     ...training state (optimiser, step, options) in train-lmdm checkpoints}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from lia.checkpoint import check_plain, read_file
from lia.lmdm.diffusion import Diffusion, DiffusionConfig
from lia.lmdm.unet import UNet1D, UNetConfig
from vhq.errors import BadInput, OutputError
from vhq.io.files import atomic_path

FORMAT = "vhq-lmdm"
VERSION = 1
RESERVED = ("format", "version", "config", "norm", "lia", "model", "ema")
SEQ_LEN = 64  # paper


@dataclass
class Normaliser:
    """``a = (α − mean) / std`` per motion dimension [vhq: the paper does not say how codes are scaled]."""

    mean: torch.Tensor
    std: torch.Tensor

    @classmethod
    def fit(cls, codes: torch.Tensor) -> "Normaliser":
        c = codes.to(torch.float64)
        return cls(c.mean(0).float(), c.std(0).clamp_min(1e-6).float())

    def encode(self, alpha: torch.Tensor) -> torch.Tensor:
        return (alpha - self.mean.to(alpha)) / self.std.to(alpha)

    def residual_to_codes(self, alpha1: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """``[α_1 ; α_1 + std·m]``: the first code is ``alpha1`` itself, bit for bit."""
        return torch.cat([alpha1[:, None], alpha1[:, None] + self.std.to(m) * m], dim=1)

    def to_dict(self) -> dict:
        return {"mean": self.mean.detach().cpu(), "std": self.std.detach().cpu()}


@dataclass
class Lmdm:
    """A loaded (or new) LMDM. ``net`` is the EMA network when the file has one and ``ema=True``."""

    net: UNet1D
    diffusion: Diffusion
    norm: Normaliser
    seq_len: int
    lia: dict
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def motion_dim(self) -> int:
        return self.net.cfg.motion_dim

    def config(self) -> dict:
        return {"unet": self.net.cfg.to_dict(), "diffusion": self.diffusion.cfg.to_dict(), "seq_len": self.seq_len}


def build(config: Mapping, where: str = "config") -> tuple[UNet1D, Diffusion, int]:
    try:
        net = UNet1D(UNetConfig.from_dict(dict(config["unet"])))
        diffusion = Diffusion(DiffusionConfig(**dict(config["diffusion"])))
        seq_len = int(config["seq_len"])
    except (KeyError, TypeError, ValueError) as e:
        raise BadInput(f"{where}: unusable LMDM config ({e.__class__.__name__}: {e})") from None
    if seq_len < 2 or seq_len % net.factor:
        raise BadInput(f"{where}: sequence length {seq_len} must be >= 2 and divisible by {net.factor} (the U-Net's levels)")
    return net, diffusion, seq_len


def save_lmdm(path: str | os.PathLike, net: UNet1D, diffusion: Diffusion, seq_len: int, norm: Normaliser, lia: dict,
              ema: UNet1D | None = None, **extra: Any) -> Path:
    """Write a vhq-lmdm file atomically (tensors on the CPU, plain entries only)."""
    clash = [k for k in extra if k in RESERVED]
    if clash:
        raise TypeError(f"save_lmdm: {clash} are reserved entries")
    obj = {"format": FORMAT, "version": VERSION,
           "config": {"unet": net.cfg.to_dict(), "diffusion": diffusion.cfg.to_dict(), "seq_len": seq_len},
           "norm": norm.to_dict(), "lia": dict(lia),
           "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
           "ema": {k: v.detach().cpu() for k, v in (ema or net).state_dict().items()}, **extra}
    check_plain(obj)
    try:
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
    except RuntimeError as e:
        raise OutputError(f"{path}: cannot write the checkpoint ({str(e).strip().splitlines()[-1][:200]})",
                          "free some space and re-run; the previous checkpoint is intact") from None
    return Path(path)


def read_lmdm(path: str | os.PathLike) -> dict:
    """The checked contents of a vhq-lmdm file as a dict."""
    p = Path(path)
    obj = read_file(p)
    if not isinstance(obj, Mapping) or obj.get("format") != FORMAT:
        raise BadInput(f"{p}: not an LMDM checkpoint (no 'format': '{FORMAT}')", hint="`vhq train-lmdm` writes them")
    if not isinstance(obj.get("version"), int) or obj["version"] > VERSION:
        raise BadInput(f"{p}: vhq-lmdm version {obj.get('version')!r} is newer than this vhq reads ({VERSION})", hint="upgrade vhq")
    for key in ("config", "norm", "lia", "model", "ema"):
        if not isinstance(obj.get(key), Mapping):
            raise BadInput(f"{p}: vhq-lmdm checkpoint without '{key}'")
    return dict(obj)


def load_lmdm(path: str | os.PathLike, ema: bool = True) -> Lmdm:
    """Build the network from a vhq-lmdm file and load its (EMA) weights strictly, in eval mode."""
    obj = read_lmdm(path)
    net, diffusion, seq_len = build(obj["config"], str(path))
    try:
        net.load_state_dict(obj["ema" if ema else "model"], strict=True)
        norm = Normaliser(obj["norm"]["mean"].float(), obj["norm"]["std"].float())
    except (RuntimeError, KeyError, AttributeError) as e:
        raise BadInput(f"{path}: weights do not match its LMDM config ({' '.join(str(e).split())[:300]})") from None
    if norm.mean.shape != (net.cfg.motion_dim,) or norm.std.shape != (net.cfg.motion_dim,):
        raise BadInput(f"{path}: normalisation of shape {tuple(norm.mean.shape)} for {net.cfg.motion_dim} motion dimensions")
    extra = {k: v for k, v in obj.items() if k not in RESERVED}
    return Lmdm(net.eval(), diffusion, norm, seq_len, dict(obj["lia"]), extra)
