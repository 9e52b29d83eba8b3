"""KVD: identical sets, parity with a direct numpy MMD, subset protocol."""

from __future__ import annotations

import numpy as np
import pytest

from eval.functional.kernel import kernel_distance, mmd2_unbiased, polynomial_kernel
from vhq.errors import BadInput


def _direct_mmd(x, y):
    """Unbiased MMD² written out with explicit double loops (slow, obviously correct)."""
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return sxx + syy - 2 * sxy


def test_kernel_matches_sklearn_defaults_formula():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 7)), rng.standard_normal((4, 7))
    np.testing.assert_allclose(polynomial_kernel(x, y), (x @ y.T / 7 + 1) ** 3, rtol=1e-14)


def test_kvd_matches_direct_numpy_mmd():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((23, 6)), rng.standard_normal((17, 6)) + 0.3
    assert mmd2_unbiased(x, y) == pytest.approx(_direct_mmd(x, y), rel=1e-10)
    assert kernel_distance(x, y, mode="full") == pytest.approx(_direct_mmd(x, y), rel=1e-10)


def test_kvd_of_identical_sets_is_near_zero():
    x = np.random.default_rng(2).standard_normal((200, 16))
    v = kernel_distance(x, x, mode="full")
    # With identical sets the unbiased estimate is 2·(mean off-diagonal − mean of all) of K(x, x):
    # O(1/m) of the kernel scale, and exactly zero in the limit.
    k = polynomial_kernel(x, x)
    m = len(x)
    assert v == pytest.approx(2 * ((k.sum() - np.trace(k)) / (m * (m - 1)) - k.mean()), rel=1e-10)
    assert abs(v) < 0.01 * np.trace(k) / m
    assert abs(v) < 0.02 * kernel_distance(x, x + 1.0, mode="full")


def test_kvd_grows_with_shift():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((100, 8))
    y = rng.standard_normal((100, 8))
    near, far = kernel_distance(x, y + 0.2), kernel_distance(x, y + 2.0)
    assert far > near


def test_subset_mode_is_seeded_scaled_and_equals_full_when_subset_is_whole_set():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((30, 5)), rng.standard_normal((30, 5)) + 0.5
    a = kernel_distance(x, y, mode="subsets", subsets=10, seed=7)
    assert a == kernel_distance(x, y, mode="subsets", subsets=10, seed=7)
    # m = min(30, 30, 1000) = 30: every subset is a permutation of the whole set.
    assert a == pytest.approx(1000 * mmd2_unbiased(x, y), rel=1e-10)
    b = kernel_distance(x, y, mode="subsets", subsets=10, subset_size=10, seed=7)
    c = kernel_distance(x, y, mode="subsets", subsets=10, subset_size=10, seed=8)
    assert b != c


def test_bad_inputs():
    with pytest.raises(BadInput, match="at least 2"):
        mmd2_unbiased(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(BadInput, match="unknown KVD mode"):
        kernel_distance(np.zeros((3, 3)), np.zeros((3, 3)), mode="bogus")


def _kid_formula(x, y, subsets, subset_size, rng):
    """The polynomial-kernel MMD estimator of Bińkowski et al. in the arrangement StyleGAN-V's KVD uses
    (the KID code of StyleGAN2-ADA): per subset, a = k(x,x) + k(y,y), b = k(x,y),
    t += (Σa − tr a)/(m−1) − 2Σb/m; result t / subsets / m. Written from the formula."""
    n = x.shape[1]
    m = min(x.shape[0], y.shape[0], subset_size)
    t = 0.0
    for _ in range(subsets):
        xs = x[rng.choice(x.shape[0], m, replace=False)]
        ys = y[rng.choice(y.shape[0], m, replace=False)]
        a = (xs @ xs.T / n + 1) ** 3 + (ys @ ys.T / n + 1) ** 3
        b = (xs @ ys.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return t / subsets / m


def test_subset_kvd_equals_the_kid_formula():
    """Oracle: the published polynomial-MMD arrangement, on the same seeded subsets."""
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((40, 8)), rng.standard_normal((30, 8)) * 1.2 + 0.1
    theirs = _kid_formula(x, y, subsets=7, subset_size=20, rng=np.random.default_rng(5))
    ours = kernel_distance(x, y, mode="subsets", subsets=7, subset_size=20, scale=1.0, seed=5)
    assert ours == pytest.approx(theirs, rel=1e-10)
