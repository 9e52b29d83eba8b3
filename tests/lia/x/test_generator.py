"""The tiny LIA-X generator end to end: the decoder's data flow, relative transfer in chunks with the
source encoded once, and direction walks that move only the chosen magnitude."""

from __future__ import annotations

import pytest
import torch

from lia.animate import animate, frames_to_input, images_to_frames, walk_direction
from lia.x.config import LiaXConfig, level_name


def upstream_data_flow(dec, w: torch.Tensor, feats: list[torch.Tensor]) -> torch.Tensor:
    """The decoder's forward written out as upstream's ``Decoder.forward`` does, level by level."""
    h = dec.conv1(dec.input(w.shape[0]), w)
    h_flow = h_warp_prev = rgb = None
    for j, feat in enumerate(feats):
        n = level_name(j)
        h = getattr(dec, f"conv{n}_1")(h, w)
        for conv in getattr(dec, f"conv{n}_2"):
            h = conv(h, w)
        h_warp, h, h_flow = getattr(dec, f"flow{n}")(h, w, feat, h_flow)
        if j > 0:
            h_warp = h_warp + getattr(dec, f"conv{n}_2_up")(h_warp_prev)
        for conv in getattr(dec, f"conv{n}_2_rgb"):
            h_warp = conv(h_warp)
        rgb = getattr(dec, f"rgb{n}")(h_warp, rgb)
        h_warp_prev = h_warp
    return rgb


def test_level_names_and_widths_follow_the_released_rule():
    cfg = LiaXConfig()
    assert [level_name(j) for j in range(cfg.levels)] == ["_512", "2", "3", "4", "5", "6", "7"]
    assert [cfg.width(8 * 2**j) for j in range(cfg.levels)] == [1024] * 4 + [512, 256, 128]
    tiny = LiaXConfig(64, 0.5, 64, 40)
    assert [tiny.width(r) for r in (4, 8, 16, 32, 64)] == [256, 256, 128, 64, 32]


@torch.no_grad()
def test_decoder_follows_the_upstream_data_flow(tiny_liax, astronaut128, driving128):
    g = tiny_liax
    src = frames_to_input(astronaut128, 64)
    z, feats = g.encode_appearance(src)
    assert [f.shape[-1] for f in feats] == [8, 16, 32, 64] and [f.shape[1] for f in feats] == [256, 128, 64, 32]
    alpha = g.encode_motion(frames_to_input(driving128[:2], 64))
    w = z + alpha @ g.directions().T
    out = g.decode(z, feats, alpha)
    assert out.shape == (2, 3, 64, 64)
    assert torch.allclose(out, upstream_data_flow(g.dec, w, [f.expand(2, -1, -1, -1) for f in feats]), atol=1e-5)
    # every level's features reach the image: zeroing the 8x8 map changes it
    assert not torch.allclose(out, g.decode(z, [torch.zeros_like(feats[0])] + feats[1:], alpha), atol=1e-3)


def test_relative_transfer_in_chunks_encodes_the_source_once(tiny_liax, astronaut128, driving128):
    g = tiny_liax
    calls = []
    hook = g.enc.enc_2r.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    try:
        chunked = torch.cat(list(animate(g, astronaut128, [driving128[:1], driving128[1:4]], mode="relative", batch=3)))
    finally:
        hook.remove()
    assert calls == [1, 3, 1]  # the source once, then the driving frames in chunks of 3
    with torch.no_grad():
        src, drv = frames_to_input(astronaut128, 64), frames_to_input(driving128[:4], 64)
        expected = images_to_frames(g(src.expand(4, -1, -1, -1), drv, start=drv[:1].expand(4, -1, -1, -1)))
    assert chunked.shape == (4, 64, 64, 3)
    assert (chunked.int() - expected.int()).abs().max() <= 1
    # frame 0 carries no motion of its own: the source re-rendered with its own magnitudes
    with torch.no_grad():
        z, feats = g.encode_appearance(src)
        own = images_to_frames(g.decode(z, feats, g.motion_from_latent(z)))
    assert (chunked[0].int() - own[0].int()).abs().max() <= 1
    assert (chunked[1:].float() - chunked[:1].float()).abs().mean() > 1  # the driving frames do move it


def test_a_direction_walk_moves_only_the_chosen_magnitude(tiny_liax, astronaut128):
    g = tiny_liax
    seen = []
    hook = g.dec.direction.register_forward_hook(lambda m, args, out: seen.append(args[0].clone()))
    try:
        frames = walk_direction(g, astronaut128, 37, [-1.0, 0.0, 1.0])
    finally:
        hook.remove()
    (alphas,) = seen
    with torch.no_grad():
        own = g.motion_from_latent(g.encode_appearance(frames_to_input(astronaut128, 64))[0])
    delta = alphas - own
    assert torch.allclose(delta[:, 37], torch.tensor([-1.0, 0.0, 1.0]), atol=1e-6)
    assert delta[:, [i for i in range(40) if i != 37]].abs().max() < 1e-6
    assert not torch.equal(frames[0], frames[2])


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (1, 1, 64, 64)])
def test_wrong_input_shapes_are_refused(tiny_liax, shape):
    with pytest.raises(ValueError, match=r"expected images \[B, 3, 64, 64\]"):
        tiny_liax.encode_motion(torch.zeros(shape))
