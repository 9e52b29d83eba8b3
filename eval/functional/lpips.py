"""LPIPS v0.1 (Zhang et al. 2018) from trunk features.

``lpips_from_features`` is the distance given the five AlexNet activations of each side and the
five linear-layer weights; ``lpips_per_frame`` runs a loaded trunk (``eval.backbones.lpips_alex``)
on frames in [0,1]. Matches ``lpips.LPIPS(net='alex', version='0.1')`` with ``spatial=False``:
inputs mapped to [-1,1], the fixed scaling layer, channel-unit-normalised features (L2 norm
+ 1e-10), squared difference, 1×1 non-negative linear layer, spatial mean, sum over layers.
"""

from __future__ import annotations

from typing import Sequence

import torch

from eval.functional._checks import check_pair
from eval.functional.l1 import to_unit

EPS = 1e-10


def _unit_normalise(x: torch.Tensor) -> torch.Tensor:
    return x / (torch.sqrt((x * x).sum(dim=1, keepdim=True)) + EPS)


def lpips_from_features(
    feats_pred: Sequence[torch.Tensor],
    feats_gt: Sequence[torch.Tensor],
    lin_weights: Sequence[torch.Tensor],
) -> torch.Tensor:
    """Per-frame LPIPS ``[N]`` (float64) from per-layer features ``[N,C_k,H_k,W_k]``.

    ``lin_weights[k]`` is the ``[1,C_k,1,1]`` weight of the k-th 1×1 linear layer.
    """
    if not (len(feats_pred) == len(feats_gt) == len(lin_weights)):
        raise ValueError("lpips: need the same number of feature layers and linear layers")
    total = None
    for fp, fg, w in zip(feats_pred, feats_gt, lin_weights):
        d = (_unit_normalise(fp) - _unit_normalise(fg)) ** 2
        v = torch.nn.functional.conv2d(d, w.to(d.dtype)).mean(dim=(1, 2, 3))
        total = v if total is None else total + v
    return total.to(torch.float64)


def lpips_per_frame(pred: torch.Tensor, gt: torch.Tensor, net) -> torch.Tensor:
    """Per-frame LPIPS (float64 ``[T]``) with a loaded ``LpipsAlex`` network.

    Frames are uint8 ``[T,H,W,3]`` or float ``[T,3,H,W]`` in [0,1]; they are mapped to [-1,1]
    as the reference implementation expects.
    """
    p, g = to_unit(pred), to_unit(gt)
    check_pair(p, g, "lpips")
    p, g = p.to(net.device), g.to(net.device)
    with torch.no_grad():
        fp = net.features(p * 2 - 1)
        fg = net.features(g * 2 - 1)
        return lpips_from_features(fp, fg, net.lin_weights).cpu()
