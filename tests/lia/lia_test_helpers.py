"""Helpers shared by the LIA tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DATA = Path(__file__).resolve().parent.parent / "data" / "lia"


def manifest(name: str) -> dict[str, list[int]]:
    """Official state_dict manifest: key -> shape, in the official order."""
    return json.loads((DATA / f"{name}.json").read_text())


def resize_photo(img: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [H, W, 3] -> uint8 [size, size, 3] (area averaging of a centre square)."""
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=(size, size), mode="area")
    return x[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).contiguous()
