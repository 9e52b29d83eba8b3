"""Streaming accumulators equal the one-shot functions; weightings; merge."""

from __future__ import annotations

import pytest
import torch

from eval.backbones.lpips_alex import LpipsAlex
from eval.functional import KeypointFrames, aed_per_frame, keypoint_frame_stats, l1_per_frame, lpips_per_frame
from eval.metrics import AED, L1, LPIPS, Keypoints


def _videos(lengths, seed=0, size=32):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=g) for n in lengths]


def test_l1_accumulator_equals_functional_both_weightings():
    preds, gts = _videos([1, 4, 2], 0), _videos([1, 4, 2], 1)
    acc = L1()
    for p, g in zip(preds, gts):
        acc.update(p, g)
    per = [l1_per_frame(p, g) for p, g in zip(preds, gts)]
    frame = torch.cat(per).mean().item()
    video = torch.stack([v.mean() for v in per]).mean().item()
    assert acc.compute("frame") == pytest.approx(frame, abs=1e-15)
    assert acc.compute("video") == pytest.approx(video, abs=1e-15)
    assert abs(frame - video) > 1e-6  # lengths differ, so the weightings do too
    assert acc.frame_sum.dtype == torch.float64


def test_update_in_chunks_equals_whole_video():
    p, g = _videos([5], 2)[0], _videos([5], 3)[0]
    a, b = L1(), L1()
    a.update(p, g)
    b.update(p[:2], g[:2], end_video=False)
    b.update(p[2:], g[2:])
    assert a.state_dict() == pytest.approx(b.state_dict(), abs=1e-15)


def test_merge_equals_single_stream_and_reset():
    preds, gts = _videos([2, 3, 1, 2], 4), _videos([2, 3, 1, 2], 5)
    whole, left, right = L1(), L1(), L1()
    for i, (p, g) in enumerate(zip(preds, gts)):
        whole.update(p, g)
        (left if i % 2 else right).update(p, g)
    left.merge(right)
    assert left.compute("video") == pytest.approx(whole.compute("video"), abs=1e-14)
    assert left.compute("frame") == pytest.approx(whole.compute("frame"), abs=1e-14)
    whole.reset()
    assert whole.state_dict() == {k: 0.0 for k in L1.states}


def test_lpips_accumulator_equals_functional(eval_weights):
    net = LpipsAlex.from_registry()
    preds, gts = _videos([2, 1], 6), _videos([2, 1], 7)
    acc = LPIPS(net)
    for p, g in zip(preds, gts):
        acc.update(p, g)
    per = [lpips_per_frame(p, g, net) for p, g in zip(preds, gts)]
    assert acc.compute("video") == pytest.approx(torch.stack([v.mean() for v in per]).mean().item(), abs=1e-12)


def test_aed_and_keypoint_accumulators():
    e1, e2 = torch.randn(6, 512), torch.randn(6, 512)
    acc = AED()
    acc.update(e1[:4], e2[:4])
    acc.update(e1[4:], e2[4:])
    assert acc.compute("frame") == pytest.approx(aed_per_frame(e1, e2).mean().item(), abs=1e-12)

    g = torch.zeros(3, 68, 2, dtype=torch.float64)
    kacc = Keypoints()
    kacc.update(KeypointFrames(g + 1, torch.tensor([True, True, False])), KeypointFrames(g, torch.tensor([True, True, True])))
    kacc.update(KeypointFrames(g + 4, torch.tensor([True, True, True])), KeypointFrames(g, torch.tensor([True, False, True])))
    assert kacc.akd("frame") == pytest.approx((1 + 1 + 4 + 4) / 4)
    assert kacc.akd("video") == pytest.approx((1 + 4) / 2)
    assert kacc.mkr("frame") == pytest.approx(1 / 5)
    st = keypoint_frame_stats(KeypointFrames(g + 1, torch.tensor([True, True, False])), KeypointFrames(g, torch.tensor([True] * 3)))
    assert st["missed_frames"] == 1.0


def test_feature_accumulator_shares_the_base_sum_and_cat_reductions():
    import numpy as np

    from eval.metrics import Accumulator, FeatureAccumulator

    x = np.random.default_rng(1).standard_normal((9, 4))
    whole, left, right = FeatureAccumulator(4, keep_features=True), FeatureAccumulator(4, keep_features=True), FeatureAccumulator(4, keep_features=True)
    whole.update(x, [f"c{i}" for i in range(9)])
    left.update(x[:5], [f"c{i}" for i in range(5)])
    right.update(x[5:], [f"c{i}" for i in range(5, 9)])
    merged = left.merge(right).reduce()
    assert isinstance(merged, Accumulator) and FeatureAccumulator.states["items"] == "cat"
    assert torch.equal(merged.count, whole.count) and torch.allclose(merged.outer, whole.outer, rtol=0, atol=1e-12)
    assert [i for i, _ in merged.items] == [i for i, _ in whole.reduce().items]
    merged.reset()
    assert merged.items == [] and merged.outer.shape == (4, 4) and float(merged.outer.abs().sum()) == 0.0
