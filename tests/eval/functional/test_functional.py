"""Analytic cases for the pure metric functions."""

from __future__ import annotations

import math

import pytest
import torch

from eval.functional import KeypointFrames, aed_per_frame, akd_per_frame, keypoint_frame_stats, l1_per_frame


def _frames(seed: int, t: int = 3, h: int = 8, w: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(20, 236, (t, h, w, 3), dtype=torch.uint8, generator=g)


def test_l1_identical_is_zero():
    a = _frames(0)
    assert torch.equal(l1_per_frame(a, a.clone()), torch.zeros(3, dtype=torch.float64))


def test_l1_hand_computed_perturbation():
    a = _frames(1)
    b = a.clone()
    b[0] += 10  # every value of frame 0 moves by 10/255
    b[1, :4] -= 20  # half the rows of frame 1 by 20/255
    got = l1_per_frame(b, a)
    assert got.dtype == torch.float64
    assert got[0].item() == pytest.approx(10 / 255, abs=1e-15)
    assert got[1].item() == pytest.approx(0.5 * 20 / 255, abs=1e-15)
    assert got[2].item() == 0.0


def test_l1_float_input_matches_uint8():
    a, b = _frames(2), _frames(3)
    fa, fb = a.permute(0, 3, 1, 2).double() / 255, b.permute(0, 3, 1, 2).double() / 255
    assert torch.allclose(l1_per_frame(a, b), l1_per_frame(fa, fb), atol=1e-12)


def test_l1_shape_mismatch_is_loud():
    with pytest.raises(ValueError, match="shapes differ"):
        l1_per_frame(_frames(0), _frames(0, h=4))


def _kp(points, found):
    return KeypointFrames(torch.as_tensor(points, dtype=torch.float64), torch.as_tensor(found))


def test_akd_is_mean_absolute_coordinate_difference():
    g = torch.zeros(2, 68, 2, dtype=torch.float64)
    p = g.clone()
    p[0, :, 0] += 3.0  # x off by 3 → mean over the 68x2 coordinates = 1.5
    p[1, :, :] += torch.tensor([1.0, -2.0])  # → (1 + 2) / 2 = 1.5 ... distinct from Euclidean sqrt(5)
    s = akd_per_frame(_kp(p, [True, True]), _kp(g, [True, True]))
    assert s.tolist() == [1.5, 1.5]


def test_keypoint_stats_count_missing_sides():
    g = torch.zeros(4, 68, 2, dtype=torch.float64)
    p = g + 2.0
    st = keypoint_frame_stats(_kp(p, [True, False, True, False]), _kp(g, [True, True, False, False]))
    assert st == {"akd_sum": 2.0, "akd_frames": 1.0, "gt_face_frames": 2.0, "missed_frames": 1.0, "gt_missing": 2.0, "pred_missing": 2.0}


def test_from_list_marks_none_as_missing():
    k = KeypointFrames.from_list([None, [[1.0, 2.0]] * 68])
    assert k.found.tolist() == [False, True]
    assert torch.isnan(k.points[0]).all() and k.points[1, 0].tolist() == [1.0, 2.0]


def test_aed_squared_and_plain():
    a = torch.nn.functional.normalize(torch.randn(5, 512), dim=1)
    b = torch.nn.functional.normalize(torch.randn(5, 512), dim=1)
    sq = aed_per_frame(a, b)
    cos = (a.double() * b.double()).sum(1)
    assert torch.allclose(sq, 2 - 2 * cos, atol=1e-6)  # unit vectors: ‖a−b‖² = 2 − 2cos
    assert torch.allclose(aed_per_frame(a, b, squared=False), sq.sqrt())
    assert aed_per_frame(a, a.clone()).abs().max().item() == 0.0
    assert math.isclose(aed_per_frame(torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 4.0]])).item(), 25.0)
