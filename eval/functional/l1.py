"""L1: mean absolute difference between frames with values in [0, 1]."""

from __future__ import annotations

import torch

from eval.functional._checks import check_pair


def to_unit(frames: torch.Tensor) -> torch.Tensor:
    """uint8 ``[T,H,W,3]`` frames → float ``[T,3,H,W]`` in [0,1]; float NCHW input is returned as is."""
    if frames.dtype == torch.uint8:
        return frames.permute(0, 3, 1, 2).float() / 255.0
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"expected uint8 [T,H,W,3] or float [T,3,H,W] frames, got {frames.dtype} {tuple(frames.shape)}")
    return frames


def l1_per_frame(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Per-frame mean |pred - gt| over pixels and channels, values in [0,1], float64 ``[T]``.

    Inputs are uint8 ``[T,H,W,3]`` (divided by 255) or float ``[T,3,H,W]`` already in [0,1].
    Matches FOMM ``reconstruction.py`` (per-frame entries) and LIA ``evaluation.py``
    (``|0.5·(gen − real)|`` on [-1,1] tensors, the same quantity).
    """
    if pred.dtype == torch.uint8 and gt.dtype == torch.uint8:
        check_pair(pred, gt, "l1", channels_last=True)
        diff = (pred.to(torch.int16) - gt.to(torch.int16)).abs().to(torch.float64)
        return diff.flatten(1).mean(1) / 255.0
    p, g = to_unit(pred), to_unit(gt)
    check_pair(p, g, "l1")
    return (p.to(torch.float64) - g.to(torch.float64)).abs().flatten(1).mean(1)
