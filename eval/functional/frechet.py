"""Fréchet distance between Gaussians fitted to two feature sets (FVD, video FID).

FD = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁Σ₂)^½).

Everything runs in float64 on numpy arrays. Features enter only through *sufficient statistics*
(feature sum, sum of outer products, count), which add across batches and across ranks, so a
set of any size costs O(d²) memory and a distributed reduction is a plain ``sum``.

Two ways to get Tr (Σ₁Σ₂)^½:

- ``"eigen"`` (default): Σ_i √λ_i with λ the eigenvalues of the symmetric PSD matrix
  A = Σ₁^½ Σ₂ Σ₁^½ (Σ₁^½ by ``eigh``; eigenvalues below the numerical rank tolerance, negative
  ones included, count as 0). This is the TF-GAN / DIGAN / TATS formulation; it never goes
  complex and stays stable when N < d makes the covariances rank-deficient.
- ``"sqrtm"``: ``scipy.linalg.sqrtm(Σ₁Σ₂)`` as StyleGAN-V and G3AN compute it, for parity with
  their numbers. A non-finite result is retried with ε·I added to both covariances (ε = 1e-6),
  and an imaginary diagonal larger than 1e-3 is rejected (the pytorch-fid convention).
- ``"sqrtm_real"``: ``scipy.linalg.sqrtm(Σ₁Σ₂)`` with no ε retry and the real part taken
  whatever the imaginary part, as cd-fvd computes it (``fvd_videomae``).

Covariance normalisation is explicit: ``unbiased=True`` divides by N−1 (``numpy.cov``; DIGAN,
TATS, G3AN), ``False`` by N (StyleGAN-V).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.functional._checks import as_2d_float64 as _as_2d
from vhq.errors import BadInput

FD_METHODS = ("eigen", "sqrtm", "sqrtm_real")
SQRTM_EPS = 1e-6
SQRTM_IMAG_TOL = 1e-3


@dataclass
class SufficientStats:
    """Feature sum, outer-product sum and count, all float64; ``+`` merges two sets."""

    total: np.ndarray  # [d]
    outer: np.ndarray  # [d, d]
    count: int

    @classmethod
    def empty(cls, dim: int) -> "SufficientStats":
        return cls(np.zeros(dim, np.float64), np.zeros((dim, dim), np.float64), 0)

    @classmethod
    def of(cls, features) -> "SufficientStats":
        x = _as_2d(features)
        return cls(x.sum(axis=0), x.T @ x, x.shape[0])

    @property
    def dim(self) -> int:
        return self.total.shape[0]

    def add(self, features) -> "SufficientStats":
        """Accumulate a batch of features ``[n, d]`` in place; returns self."""
        x = _as_2d(features)
        if x.shape[1] != self.dim:
            raise BadInput(f"feature dimension {x.shape[1]} does not match the accumulated {self.dim}")
        self.total += x.sum(axis=0)
        self.outer += x.T @ x
        self.count += x.shape[0]
        return self

    def __add__(self, other: "SufficientStats") -> "SufficientStats":
        if other.dim != self.dim:
            raise BadInput(f"cannot merge statistics of dimension {self.dim} and {other.dim}")
        return SufficientStats(self.total + other.total, self.outer + other.outer, self.count + other.count)

    def mean_cov(self, unbiased: bool = True) -> tuple[np.ndarray, np.ndarray]:
        return mean_cov(self.total, self.outer, self.count, unbiased)


def mean_cov(total: np.ndarray, outer: np.ndarray, count: int, unbiased: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance from sufficient statistics (N−1 or N in the denominator)."""
    if count < 2:
        raise BadInput(f"need at least 2 feature vectors for a covariance, got {count}")
    mu = total / count
    scatter = outer - count * np.outer(mu, mu)
    cov = scatter / (count - 1 if unbiased else count)
    return mu, (cov + cov.T) / 2


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray, method: str = "eigen") -> float:
    """Tr (Σ₁Σ₂)^½ by the symmetric eigen formulation or by ``scipy.linalg.sqrtm``."""
    if method == "eigen":
        # Σ₁ = V diag(w) Vᵀ; with L = V diag(√w) restricted to the numerically non-zero w,
        # Σ₁^½ Σ₂ Σ₁^½ = V (Lᵀ Σ₂ L) Vᵀ has the eigenvalues of the r×r matrix Lᵀ Σ₂ L.
        # When N < d (rank r ≤ N − 1) this is far cheaper than the d×d product.
        w, v = np.linalg.eigh(sigma1)
        keep = w > max(w.max(), 0.0) * w.shape[0] * np.finfo(np.float64).eps
        if not keep.any():
            return 0.0
        low = v[:, keep] * np.sqrt(w[keep])
        a = low.T @ sigma2 @ low
        lam = np.linalg.eigvalsh((a + a.T) / 2)
        return float(np.sqrt(np.clip(lam, 0, None)).sum())
    if method == "sqrtm":
        return _trace_sqrtm(sigma1, sigma2)
    if method == "sqrtm_real":
        import warnings

        import scipy.linalg

        with warnings.catch_warnings():  # singular products are expected when N <= d; rows carry that warning
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            return float(np.trace(scipy.linalg.sqrtm(sigma1 @ sigma2)).real)
    raise BadInput(f"unknown Fréchet method {method!r}", f"choose one of: {', '.join(FD_METHODS)}")


def _trace_sqrtm(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    import scipy.linalg

    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * SQRTM_EPS
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.abs(np.diagonal(covmean).imag).max()
        if imag > SQRTM_IMAG_TOL:
            raise BadInput(
                f"scipy.linalg.sqrtm returned a complex matrix square root (imaginary part {imag:.3g})",
                "the covariances are too ill-conditioned for the sqrtm mode: use the eigen mode",
            )
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(mu1, sigma1, mu2, sigma2, method: str = "eigen") -> float:
    """FD between N(μ₁, Σ₁) and N(μ₂, Σ₂), float64."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.shape[0],) * 2:
        raise BadInput(f"mismatched statistics: means {mu1.shape} vs {mu2.shape}, covariances {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    tr = trace_sqrt_product(sigma1, sigma2, method)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr)


def frechet_distance_from_stats(a: SufficientStats, b: SufficientStats, unbiased: bool = True, method: str = "eigen") -> float:
    mu1, s1 = a.mean_cov(unbiased)
    mu2, s2 = b.mean_cov(unbiased)
    return frechet_distance(mu1, s1, mu2, s2, method)


def frechet_distance_from_features(x, y, unbiased: bool = True, method: str = "eigen") -> float:
    return frechet_distance_from_stats(SufficientStats.of(x), SufficientStats.of(y), unbiased, method)
