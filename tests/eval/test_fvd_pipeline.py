"""The FVD feature pipeline's fast paths equal the plain ones: I3D's pool and folded BatchNorm, batching, batch choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from eval import video_protocols
from eval.backbones.i3d import _LAYOUT, InceptionI3d, MaxPool3dSame, Unit3D, _pad_same
from eval.video_protocols import BatchSizeChoice, extract_features, get_protocol, iter_clip_batches, load_clip, plan_clips
from vhq.errors import BadInput
from vhq.io import video
from vhq.testing.random_weights import manifest, random_state

POOLS = sorted({args for _, kind, args in _LAYOUT if kind == "pool"})


@pytest.mark.parametrize(("kernel", "stride"), POOLS)
def test_i3d_max_pool_equals_max_pool3d_on_the_zero_padded_input(kernel, stride):
    torch.manual_seed(0)
    for shape in [(2, 3, 8, 14, 14), (1, 2, 5, 9, 11)]:
        x = torch.randn(shape)  # negative values too: the zero padding must count
        expected = F.max_pool3d(_pad_same(x, kernel, stride), kernel, stride)
        assert torch.equal(MaxPool3dSame(kernel, stride)(x), expected)


def _reference_unit(unit: Unit3D, x: torch.Tensor) -> torch.Tensor:
    """Conv on the TF-SAME padded input, BatchNorm, ReLU: the unit as three separate steps."""
    y = unit.conv3d(_pad_same(x, unit.kernel, unit.stride))
    if hasattr(unit, "bn"):
        y = F.batch_norm(y, unit.bn.running_mean, unit.bn.running_var, unit.bn.weight, unit.bn.bias, False, 0.0, unit.bn.eps)
    return F.relu(y) if unit.relu else y


def _randomise(unit: Unit3D, seed: int) -> Unit3D:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in [*unit.parameters(), *unit.buffers()]:
            if t.dtype.is_floating_point:
                t.copy_(torch.randn(t.shape, generator=g) * 0.3)
        if hasattr(unit, "bn"):
            unit.bn.running_var.uniform_(0.5, 2.0, generator=g)
            unit.bn.eps = 1e-3  # TF's: large enough that leaving it out shows
    return unit


@pytest.mark.parametrize(("kernel", "stride", "relu", "bn", "bias"), [
    ((7, 7, 7), (2, 2, 2), True, True, False),  # asymmetric SAME padding on even sizes
    ((3, 3, 3), (1, 1, 1), True, True, False),  # symmetric: padded by the convolution
    ((1, 1, 1), (1, 1, 1), True, True, False),
    ((1, 1, 1), (1, 1, 1), False, False, True),  # the logits layer
])
def test_unit_with_folded_batchnorm_equals_conv_bn_relu(kernel, stride, relu, bn, bias):
    unit = _randomise(Unit3D(4, 6, kernel, stride, bn=bn, relu=relu, bias=bias), seed=1).eval()
    x = torch.randn(2, 4, 8, 12, 12, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = _reference_unit(unit, x)
    for ctx in (torch.no_grad, torch.inference_mode, torch.enable_grad):
        with ctx():
            torch.testing.assert_close(unit(x), expected, rtol=1e-5, atol=1e-5)


def test_folded_weights_follow_a_change_of_the_weights():
    unit = _randomise(Unit3D(4, 6, (3, 3, 3)), seed=3).eval()
    x = torch.randn(1, 4, 6, 8, 8, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        unit(x)  # fold and keep
    with torch.no_grad():
        unit.bn.running_var.mul_(3.0)
        unit.bn.bias.add_(0.5)
    unit.load_state_dict({**unit.state_dict(), "conv3d.weight": unit.conv3d.weight * -1})
    with torch.inference_mode():
        got = unit(x)
    with torch.no_grad():
        torch.testing.assert_close(got, _reference_unit(unit, x), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- batched and overlapped pipeline


class _Clock:
    """A fake timer: a network advances it by its cost per clip × the batch size."""

    def __init__(self, per_clip: dict[int, float]):
        self.now, self.per_clip, self.sizes = 0.0, per_clip, []

    def __call__(self) -> float:
        return self.now

    def network(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(len(x))
        self.now += self.per_clip[len(x)] * len(x)
        return x.flatten(1)[:, :3] * 2


@pytest.mark.parametrize(("per_clip", "chosen", "tried"), [
    ({1: 1.0, 2: 0.6, 4: 0.5, 8: 0.7}, 4, [1, 1, 2, 4, 8]),  # GPU-like: batching pays up to 4
    ({1: 1.0, 2: 1.1, 4: 0.2, 8: 0.1}, 1, [1, 1, 2]),  # CPU-like: slower at 2, larger ones never tried
    ({1: 1.0, 2: 0.9, 4: 0.8, 8: 0.7}, 8, [1, 1, 2, 4, 8]),
    ({1: 0.5, 2: 0.5, 4: 0.5, 8: 0.5}, 1, [1, 1, 2, 4, 8]),  # a tie keeps the smaller batch
])
def test_batch_choice_keeps_the_fastest_per_clip_and_then_only_that(per_clip, chosen, tried):
    clock = _Clock(per_clip)
    choice = BatchSizeChoice(timer=clock)
    for _ in range(10):
        size = choice.next_size()
        choice.run(clock.network, torch.zeros(size, 5), size)
    assert choice.chosen == chosen
    assert clock.sizes == tried + [chosen] * (10 - len(tried))
    assert set(choice.seconds_per_clip) == set(tried[1:])  # the warm-up batch is not counted
    assert choice.seconds_per_clip[1] == pytest.approx(per_clip[1])


def test_batch_choice_ignores_a_short_last_batch_and_refuses_bad_candidates():
    clock = _Clock({1: 1.0, 2: 0.5, 3: 0.01, 4: 0.01})
    choice = BatchSizeChoice((1, 2, 4), timer=clock)
    for n, size in [(1, 1), (1, 1), (2, 2), (3, 4)]:  # only 3 clips left for the batch of 4
        assert choice.next_size() == size
        choice.run(clock.network, torch.zeros(n, 5), size)
    assert choice.chosen is None and 4 not in choice.seconds_per_clip
    with pytest.raises(BadInput, match="candidates"):
        BatchSizeChoice((0, 2))


@pytest.fixture
def tiny_clips(tmp_path):
    rng = np.random.default_rng(7)
    for i in range(7):
        frames = np.clip(rng.integers(0, 256, (1, 40, 48, 3)) + rng.integers(-30, 31, (14, 1, 1, 3)), 0, 255).astype(np.uint8)
        video.write_video(tmp_path / f"v{i}.mp4", frames, fps=25, crf=0, pix_fmt="yuv444p")
    protocol = get_protocol("stylegan-v", frames=10, size=32, seed=5)
    return plan_clips(video.list_videos(tmp_path), protocol, "real"), protocol


def test_batched_overlapped_features_equal_the_per_clip_path(tiny_clips, monkeypatch):
    clips, protocol = tiny_clips
    model = InceptionI3d()
    model.load_state_dict(random_state(manifest("i3d_pretrained_400.checkpoint"), 0))
    with torch.no_grad():
        per_clip = torch.cat([model(load_clip(c, protocol)[None]) for c in clips]).double().numpy()
    monkeypatch.setattr(video_protocols, "_CHOSEN_BATCH", {})
    scale = np.abs(per_clip).max()
    for batch_size, workers in [(3, 2), (1, 1), (8, 3)]:
        got = extract_features(model, clips, protocol, batch_size=batch_size, workers=workers)
        np.testing.assert_allclose(got, per_clip, rtol=0, atol=1e-5 * scale)
    clock = _Clock({1: 1.0, 2: 0.6, 3: 0.0, 4: 0.5})
    sizes = []

    def timed(x):
        clock.network(x)
        sizes.append(len(x))
        return model(x)

    choice = BatchSizeChoice(timer=clock)
    got = extract_features(_Network(timed), clips, protocol, batch_size=None, choice=choice)
    np.testing.assert_allclose(got, per_clip, rtol=0, atol=1e-5 * scale)
    assert sizes == [1, 1, 2, 3]  # warm-up, 1, 2, then the 3 clips left (too few to time a batch of 4)
    assert choice.chosen is None


class _Network(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def test_the_chosen_batch_size_is_kept_for_the_next_set_on_the_same_device(tiny_clips, monkeypatch):
    clips, protocol = tiny_clips
    monkeypatch.setattr(video_protocols, "_CHOSEN_BATCH", {})
    clock = _Clock({1: 1.0, 2: 1.5})
    net = _Network(clock.network)
    first = extract_features(net, clips, protocol, choice=BatchSizeChoice(timer=clock))
    assert clock.sizes == [1, 1, 2, 1, 1, 1]  # slower at 2: batches of 1 from then on
    clock.sizes.clear()
    second = extract_features(net, clips, protocol)
    assert clock.sizes == [1] * len(clips)
    np.testing.assert_array_equal(first, second)
    x = torch.cat([b for _, b in iter_clip_batches(clips, protocol, batch_size=3)])
    np.testing.assert_array_equal(second, (x.flatten(1)[:, :3] * 2).double().numpy())
