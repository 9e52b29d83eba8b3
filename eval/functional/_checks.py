"""Shape checks shared by the metric functions (loud errors that report what was seen)."""

from __future__ import annotations

import numpy as np
import torch

from vhq.errors import BadInput


def check_pair(pred: torch.Tensor, gt: torch.Tensor, what: str, channels_last: bool = False) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"{what}: pred and gt shapes differ: {tuple(pred.shape)} vs {tuple(gt.shape)}")
    if pred.ndim != 4 or pred.shape[-1 if channels_last else 1] != 3:
        layout = "[T,H,W,3]" if channels_last else "[T,3,H,W]"
        raise ValueError(f"{what}: expected {layout} frames, got {tuple(pred.shape)}")


def as_2d_float64(x, what: str = "features", shape: str = "[n, d]") -> np.ndarray:
    """A tensor or array as a float64 ``numpy`` matrix; BadInput (naming ``what``) if it is not 2-D."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise BadInput(f"{what} must be a 2-D array {shape}, got shape {a.shape}")
    return a
