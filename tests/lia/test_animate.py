"""Inference helpers on a real photo with a random-init size-128 generator."""

from __future__ import annotations

import pytest
import torch

from lia import Generator
from lia.animate import animate, frames_to_input, images_to_frames, rebatch, reference, side_by_side, source_to_input, walk_direction, walk_values


@pytest.fixture(scope="module")
def relative_frames(generator128, astronaut128, driving128):
    # 3 driving frames arriving as batches of 1 and 2, processed 2 at a time
    batches = [driving128[:1], driving128[1:3]]
    return list(animate(generator128, astronaut128, iter(batches), mode="relative", batch=2))


@pytest.fixture(scope="module")
def self_driven(generator128, astronaut128):
    """G(s, s) as uint8: the source animated by its own motion."""
    s = frames_to_input(astronaut128, 128)
    with torch.no_grad():
        return images_to_frames(generator128(s, s))[0]


def test_frame_count_size_and_batching(relative_frames):
    assert [f.shape for f in relative_frames] == [(2, 128, 128, 3), (1, 128, 128, 3)]
    assert all(f.dtype == torch.uint8 for f in relative_frames)


def test_first_relative_frame_is_the_source_driven_by_itself(relative_frames, self_driven):
    # relative motion at the start frame is a(s): the output is G(s, s), not G(s, d0)
    assert (relative_frames[0][0].int() - self_driven.int()).abs().max() <= 1


def test_relative_and_absolute_differ_and_runs_are_deterministic(generator128, astronaut128, driving128, relative_frames):
    absolute = torch.cat(list(animate(generator128, astronaut128, [driving128[:3]], mode="absolute", batch=3)))
    assert (torch.cat(relative_frames).float() - absolute.float()).abs().mean() > 1.0
    again = next(animate(generator128, astronaut128, [driving128[:2]], mode="relative", batch=2))
    assert torch.equal(again, relative_frames[0])


def test_streamed_animation_equals_the_per_frame_official_loop(astronaut128, driving128):
    # float64, so batching cannot hide behind rounding: batched + encode-once == gen(s, d_t, start=d_0) per frame
    torch.manual_seed(0)
    g = Generator(32).double().eval()
    s = frames_to_input(astronaut128, 32).double()
    d = frames_to_input(driving128[:2], 32).double()
    with torch.no_grad():
        expected = torch.cat([images_to_frames(g(s, d[t : t + 1], start=d[:1])) for t in range(2)])
    got = torch.cat(list(animate(g, astronaut128, [driving128[:1], driving128[1:2]], mode="relative", batch=2)))
    assert torch.equal(got, expected)


def test_source_is_encoded_once(generator128, astronaut128, driving128, monkeypatch):
    calls = []
    original = generator128.encode_appearance
    monkeypatch.setattr(generator128, "encode_appearance", lambda x: calls.append(x.shape[0]) or original(x))
    out = list(animate(generator128, astronaut128, [driving128[:1], driving128[1:2]], mode="relative", batch=1))
    assert len(out) == 2 and calls == [1]


def test_float_source_and_larger_frames_are_accepted(generator128, astronaut128, driving128):
    as_float = (astronaut128.permute(2, 0, 1).float() / 255 - 0.5) * 2
    torch.testing.assert_close(source_to_input(as_float, 128), source_to_input(astronaut128, 128))
    big = driving128[:1].repeat_interleave(2, dim=1).repeat_interleave(2, dim=2)  # 256x256
    out = next(animate(generator128, as_float, [big], mode="absolute"))
    assert out.shape == (1, 128, 128, 3)


def test_output_mapping_is_fixed_not_min_max():
    img = torch.tensor([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0]).reshape(1, 1, 1, 6).expand(1, 3, 1, 6)
    assert images_to_frames(img)[0, 0, :, 0].tolist() == [0, 0, 128, 191, 255, 255]
    flat = torch.full((1, 3, 4, 4), 0.2)  # a constant image stays constant (min-max would fail)
    assert images_to_frames(flat).unique().tolist() == [153]


def test_rebatch_regroups_a_stream():
    stream = [torch.zeros(2, 1), torch.ones(5, 1), torch.zeros(1, 1)]
    sizes = [b.shape[0] for b in rebatch(iter(stream), 3)]
    assert sizes == [3, 3, 2]
    assert torch.cat(list(rebatch(stream, 3))).flatten().tolist() == torch.cat(stream).flatten().tolist()


def test_reference_and_direction_walk(generator128, astronaut128, self_driven):
    s = frames_to_input(astronaut128, 128)
    with torch.no_grad():
        expected_ref = images_to_frames(generator128.reference(s))[0]
    assert torch.equal(reference(generator128, astronaut128), expected_ref)
    walk = walk_direction(generator128, astronaut128, index=4, values=[-3.0, 0.0, 3.0], batch=2)
    assert walk.shape == (3, 128, 128, 3)
    assert (walk[1].int() - self_driven.int()).abs().max() <= 1  # offset 0 is the source's own motion
    assert (walk[0].float() - walk[2].float()).abs().mean() > 1.0
    with pytest.raises(ValueError, match="direction index"):
        walk_direction(generator128, astronaut128, index=20, values=[0.0])


def test_walk_values_and_side_by_side():
    assert walk_values(3.0, 5).tolist() == [-3.0, -1.5, 0.0, 1.5, 3.0]
    a = torch.zeros(2, 4, 4, 3, dtype=torch.uint8)
    single = torch.full((4, 4, 3), 7, dtype=torch.uint8)
    panel = side_by_side(single, a, a + 1, single[None] + 1)
    assert panel.shape == (2, 4, 16, 3) and panel[1, 0, 0, 0] == 7 and panel[1, 0, 11, 0] == 1 and panel[1, 0, 15, 0] == 8
