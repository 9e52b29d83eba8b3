"""Kernel video distance (KVD): unbiased MMD² with a polynomial kernel on I3D features.

k(x, y) = (xᵀy / d + 1)³ — sklearn's ``polynomial_kernel`` defaults (degree 3, γ = 1/d, c₀ = 1).

Two protocols, named in every result:

- ``"full"`` (DIGAN / TATS): one unbiased MMD² over the whole sets, unscaled:
  Σ_{i≠j} k(x_i,x_j)/(m(m−1)) + Σ_{i≠j} k(y_i,y_j)/(n(n−1)) − 2 Σ_{i,j} k(x_i,y_j)/(mn).
- ``"subsets"`` (StyleGAN-V's KID recipe applied to video features): the mean over ``subsets``
  random subsets of size min(m, n, ``subset_size``) drawn without replacement with a seeded
  generator, multiplied by ``scale`` (1000).
"""

from __future__ import annotations

import numpy as np

from eval.functional._checks import as_2d_float64 as _as_2d
from vhq.errors import BadInput

KVD_MODES = ("full", "subsets")


def polynomial_kernel(x, y, degree: int = 3, gamma: float | None = None, coef0: float = 1.0) -> np.ndarray:
    x, y = _as_2d(x), _as_2d(y)
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(x, y, degree: int = 3, gamma: float | None = None, coef0: float = 1.0) -> float:
    """Unbiased MMD² between two feature sets (diagonals of the within-set kernels excluded)."""
    x, y = _as_2d(x), _as_2d(y)
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise BadInput(f"KVD needs at least 2 videos in each set, got {m} and {n}")
    if x.shape[1] != y.shape[1]:
        raise BadInput(f"feature dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    kxx = polynomial_kernel(x, x, degree, gamma, coef0)
    kyy = polynomial_kernel(y, y, degree, gamma, coef0)
    kxy = polynomial_kernel(x, y, degree, gamma, coef0)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def kernel_distance(
    x,
    y,
    mode: str = "full",
    subsets: int = 100,
    subset_size: int = 1000,
    scale: float | None = None,
    seed: int = 0,
) -> float:
    """KVD of ``x`` vs ``y`` under ``mode`` (``scale`` defaults to 1 for full, 1000 for subsets)."""
    x, y = _as_2d(x), _as_2d(y)
    if mode == "full":
        return mmd2_unbiased(x, y) * (1.0 if scale is None else scale)
    if mode != "subsets":
        raise BadInput(f"unknown KVD mode {mode!r}", f"choose one of: {', '.join(KVD_MODES)}")
    if subsets < 1:
        raise BadInput(f"KVD subsets must be >= 1, got {subsets}")
    m = min(x.shape[0], y.shape[0], subset_size)
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(subsets):
        xs = x[rng.choice(x.shape[0], m, replace=False)]
        ys = y[rng.choice(y.shape[0], m, replace=False)]
        total += mmd2_unbiased(xs, ys)
    return total / subsets * (1000.0 if scale is None else scale)
