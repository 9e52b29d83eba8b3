"""Average embedding distance (AED) between identity embeddings of generated and real frames.

pose-evaluation's ``cmp.py`` sums squared coordinate differences: d_t = ‖e_pred − e_gt‖² (for unit
embeddings 2 − 2·cos, in [0,4]); AED is the mean of d_t over frames. ``squared=False`` gives the
plain Euclidean distance instead.
"""

from __future__ import annotations

import torch


def identity_distance(a: torch.Tensor, b: torch.Tensor, squared: bool = True) -> torch.Tensor:
    """Row-wise distance between embeddings ``[N,D]`` → float64 ``[N]``."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"aed: embedding shapes must be equal [N,D], got {tuple(a.shape)} and {tuple(b.shape)}")
    d = ((a.to(torch.float64) - b.to(torch.float64)) ** 2).sum(dim=1)
    return d if squared else d.sqrt()


def aed_per_frame(pred_emb: torch.Tensor, gt_emb: torch.Tensor, squared: bool = True) -> torch.Tensor:
    """Per-frame AED values; rows that are NaN (no face crop on a side) stay NaN."""
    return identity_distance(pred_emb, gt_emb, squared=squared)
