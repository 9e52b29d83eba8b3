"""Random-init weight files in the real checkpoint formats, built from the key→shape manifests."""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

import torch

DATA = Path(__file__).parent.parent / "data" / "backbones"


def manifest(name: str) -> dict[str, list[int]]:
    return json.loads((DATA / f"{name}.json").read_text())


def random_state(shapes: dict[str, list[int]], seed: int = 0) -> "OrderedDict[str, torch.Tensor]":
    """Exactly the manifest's keys and shapes, as a plain dict (no ``_metadata``), He-scaled convs."""
    g = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(0, dtype=torch.int64)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith("running_mean") or key.endswith(".bias"):
            out[key] = torch.randn(shape, generator=g) * 0.1
        elif len(shape) == 1:  # BN scale
            out[key] = 1 + 0.1 * torch.randn(shape, generator=g)
        else:
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            out[key] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
    return out


def write_i3d_checkpoint(path: Path, seed: int = 0) -> Path:
    """``i3d_pretrained_400.pt``: a flat mapping, TF variable names mapped, no counters."""
    torch.save(random_state(manifest("i3d_pretrained_400.checkpoint"), seed), path)
    return path


def write_resnext_checkpoint(path: Path, seed: int = 0) -> Path:
    """``resnext-101-kinetics.pth``: Hara's training checkpoint dict, DataParallel prefixes."""
    state = random_state(manifest("resnext101_kinetics.checkpoint"), seed)
    torch.save({"epoch": 200, "arch": "resnext-101", "state_dict": state, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]}}, path)
    return path


def real_weight_file(name: str, filename: str) -> Path | None:
    """A real weight file from the user's own cache (not the per-test one), if it is there.

    ``VHQ_REAL_CACHE`` overrides the location (default ``${XDG_CACHE_HOME:-~/.cache}/vhq``).
    """
    root = os.environ.get("VHQ_REAL_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vhq")
    p = Path(root) / "weights" / filename
    return p if p.is_file() else None
