"""Shape checks shared by the metric functions (loud errors that report what was seen)."""

from __future__ import annotations

import torch


def check_pair(pred: torch.Tensor, gt: torch.Tensor, what: str, channels_last: bool = False) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f"{what}: pred and gt shapes differ: {tuple(pred.shape)} vs {tuple(gt.shape)}")
    if pred.ndim != 4 or pred.shape[-1 if channels_last else 1] != 3:
        layout = "[T,H,W,3]" if channels_last else "[T,3,H,W]"
        raise ValueError(f"{what}: expected {layout} frames, got {tuple(pred.shape)}")
