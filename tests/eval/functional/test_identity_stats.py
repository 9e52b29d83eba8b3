"""ACD and csim over embeddings: hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from eval.functional.identity_stats import average_content_distance, content_distance, cosine_similarity, identity_similarity
from vhq.errors import BadInput


def test_acd_all_pairs_hand_computed():
    # Points 0, 3, 7 on a line: pair distances 3, 7, 4 → mean 14/3.
    e = np.array([[0.0, 0.0], [3.0, 0.0], [7.0, 0.0]])
    assert content_distance(e, "all") == pytest.approx(14 / 3)
    assert content_distance(e, "consecutive") == pytest.approx(3.5)


def test_acd_is_euclidean_not_squared():
    e = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert content_distance(e) == pytest.approx(5.0)


def test_acd_matches_brute_force_on_random_embeddings():
    e = np.random.default_rng(0).standard_normal((12, 128))
    ref = np.mean([np.linalg.norm(e[i] - e[j]) for i in range(12) for j in range(i + 1, 12)])
    assert content_distance(e) == pytest.approx(ref, rel=1e-9)


def test_constant_video_has_zero_acd_and_mean_over_videos():
    still = np.ones((5, 4))
    moving = np.array([[0.0, 0, 0, 0], [0, 2, 0, 0]])
    mean, std, n = average_content_distance([still, moving])
    assert (mean, n) == (pytest.approx(1.0), 2)
    assert std == pytest.approx(1.0)


def test_csim_hand_computed():
    src = np.array([1.0, 0.0])
    frames = np.array([[2.0, 0.0], [0.0, 5.0], [1.0, 1.0]])
    np.testing.assert_allclose(cosine_similarity(src, frames), [1.0, 0.0, 1 / np.sqrt(2)])
    mean, std, n = identity_similarity([(src, frames), (src, frames[:1])])
    assert n == 2
    assert mean == pytest.approx(((1 + 0 + 1 / np.sqrt(2)) / 3 + 1) / 2)


def test_bad_inputs():
    with pytest.raises(BadInput, match="at least 2 frames"):
        content_distance(np.zeros((1, 4)))
    with pytest.raises(BadInput, match="unknown ACD pairing"):
        content_distance(np.zeros((3, 4)), "random")
    with pytest.raises(BadInput, match="zero embedding"):
        cosine_similarity(np.zeros(2), np.ones((2, 2)))
