"""Fréchet distance: analytic cases, parity with scipy, streaming statistics."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from eval.functional.frechet import SufficientStats, frechet_distance, frechet_distance_from_features, frechet_distance_from_stats, mean_cov, trace_sqrt_product
from vhq.errors import BadInput


def _random_psd(rng, d, rank=None):
    a = rng.standard_normal((d, rank or d))
    return a @ a.T / d


def _reference_fd(mu1, s1, mu2, s2):
    """FD with scipy's sqrtm, no fallbacks: the textbook formula."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    diff = mu1 - mu2
    return diff @ diff + np.trace(s1 + s2 - 2 * covmean)


@pytest.mark.parametrize("method", ["eigen", "sqrtm"])
def test_fd_of_a_set_with_itself_is_zero(method):
    x = np.random.default_rng(0).standard_normal((300, 32))
    mu, s = SufficientStats.of(x).mean_cov()
    assert frechet_distance(mu, s, mu, s, method) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance_from_features(x, x, method=method) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("method", ["eigen", "sqrtm"])
def test_equal_covariances_give_squared_mean_difference(method):
    rng = np.random.default_rng(1)
    s = _random_psd(rng, 24)
    mu1, mu2 = rng.standard_normal(24), rng.standard_normal(24)
    expected = float(((mu1 - mu2) ** 2).sum())
    assert frechet_distance(mu1, s, mu2, s, method) == pytest.approx(expected, rel=1e-9)


def test_hand_computed_diagonal_case():
    # Diagonal covariances: FD = |Δμ|² + Σ (√a − √b)².
    mu1, mu2 = np.array([0.0, 1.0]), np.array([3.0, 1.0])
    s1, s2 = np.diag([4.0, 9.0]), np.diag([1.0, 1.0])
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(9 + 1 + 4)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("method", ["eigen", "sqrtm", "sqrtm_real"])
def test_modes_agree_with_scipy_on_random_psd(seed, method):
    rng = np.random.default_rng(seed)
    d = 40
    s1, s2 = _random_psd(rng, d), _random_psd(rng, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    ref = _reference_fd(mu1, s1, mu2, s2)
    assert frechet_distance(mu1, s1, mu2, s2, method) == pytest.approx(ref, rel=1e-8)
    ref_tr = np.trace(scipy.linalg.sqrtm(s1 @ s2).real)
    assert trace_sqrt_product(s1, s2, method) == pytest.approx(ref_tr, rel=1e-8)


def test_eigen_mode_stays_real_when_covariances_are_rank_deficient():
    # N < d, as with 483 test clips and 2048-d ResNeXt features.
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((20, 64)), rng.standard_normal((20, 64)) + 0.5
    fd = frechet_distance_from_features(x, y, method="eigen")
    assert np.isfinite(fd) and fd > 0


def test_streaming_stats_equal_one_shot_numpy_cov():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((257, 16)) * 3 + 1
    acc = SufficientStats.empty(16)
    for chunk in np.array_split(x, 7):
        acc.add(chunk)
    assert acc.count == 257
    mu, cov = acc.mean_cov(unbiased=True)
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-10, atol=1e-12)
    _, cov_b = acc.mean_cov(unbiased=False)
    np.testing.assert_allclose(cov_b, np.cov(x, rowvar=False, bias=True), rtol=1e-10, atol=1e-12)
    # Merging per-rank partial statistics (reduction = sum) gives the same result.
    parts = [SufficientStats.of(c) for c in np.array_split(x, 3)]
    merged = parts[0] + parts[1] + parts[2]
    np.testing.assert_allclose(merged.mean_cov()[1], cov, rtol=1e-12)


def test_stats_are_float64_even_for_float32_features():
    x = np.random.default_rng(5).standard_normal((10, 4)).astype(np.float32)
    st = SufficientStats.of(x)
    assert st.total.dtype == np.float64 and st.outer.dtype == np.float64


def test_biased_and_unbiased_give_different_fd():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((30, 8)), rng.standard_normal((30, 8)) * 2
    a, b = SufficientStats.of(x), SufficientStats.of(y)
    assert frechet_distance_from_stats(a, b, unbiased=True) != pytest.approx(frechet_distance_from_stats(a, b, unbiased=False))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(BadInput, match="at least 2"):
        mean_cov(np.zeros(3), np.zeros((3, 3)), 1)
    with pytest.raises(BadInput, match="unknown Fréchet method"):
        trace_sqrt_product(np.eye(2), np.eye(2), "svd2")
    with pytest.raises(BadInput, match="dimension"):
        SufficientStats.empty(3).add(np.zeros((2, 4)))


def test_sqrtm_real_equals_a_float64_scipy_reference_when_rank_deficient():
    """cd-fvd's rule: real part of sqrtm(Σ₁Σ₂), no ε retry, even for N < d (biased covariance)."""
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((12, 30)), rng.standard_normal((9, 30)) * 1.5 + 0.2
    mu1, s1 = x.mean(0), np.cov(x, rowvar=False, bias=True)
    mu2, s2 = y.mean(0), np.cov(y, rowvar=False, bias=True)
    ref = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2)).real)
    ours = frechet_distance_from_features(x, y, unbiased=False, method="sqrtm_real")
    assert ours == pytest.approx(ref, rel=1e-7)  # sqrtm of a singular product: rounding of Σ shows at ~1e-9


def test_fd_equals_cd_fvds_own_computation():
    """Oracle: cd-fvd's ``FeatureStats`` accumulation and ``compute_fvd_from_stats`` on the same features."""
    fvd = pytest.importorskip("cdfvd.fvd")
    from cdfvd.utils.metric_utils import FeatureStats

    rng = np.random.default_rng(3)
    real, fake = rng.standard_normal((80, 16)).astype(np.float32), (rng.standard_normal((60, 16)) * 1.3 + 0.1).astype(np.float32)
    peer_real, peer_fake = FeatureStats(capture_mean_cov=True), FeatureStats(capture_mean_cov=True)
    for part in np.array_split(real, 3):
        peer_real.append(part)
    peer_fake.append(fake)
    evaluator = object.__new__(fvd.cdfvd)  # its FD needs no network
    theirs = float(evaluator.compute_fvd_from_stats(peer_fake, peer_real))
    ours = frechet_distance_from_stats(SufficientStats.of(real), SufficientStats.of(fake), unbiased=False, method="sqrtm_real")
    assert ours == pytest.approx(theirs, rel=1e-9)
