"""Generator behaviour: latent navigation, reference image, batching, gradients.

Random-init models at size 64 in float64, so identities hold to ~1e-12 (in float32 a random-init
network amplifies batch-dependent rounding to ~1e-4).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from lia import Generator
from lia.animate import frames_to_input


@pytest.fixture(scope="module")
def g64():
    torch.manual_seed(0)
    return Generator(64).double().eval()


@pytest.fixture(scope="module")
def enc(g64, astronaut128, driving128):
    """Source s and two driving frames d, with their codes computed once."""
    s = frames_to_input(astronaut128, 64).double()
    d = frames_to_input(driving128[:2], 64).double()
    with torch.no_grad():
        z, feats = g64.encode_appearance(s)
        return SimpleNamespace(s=s, d=d, z=z, feats=feats, alpha_s=g64.encode_motion(s), alpha_d=g64.encode_motion(d))


def test_relative_with_start_equal_to_driving_is_absolute_on_the_source(g64, enc):
    # z_s + Q(a(d) - a(d) + a(s)) = z_s + Q a(s): the absolute forward of (s, s), whatever d is.
    d = enc.d[:1]
    with torch.no_grad():
        relative = g64(enc.s, d, start=d)
        same = g64(enc.s, enc.s)
        absolute = g64.decode(enc.z, enc.feats, enc.alpha_d[:1])
    torch.testing.assert_close(relative, same, rtol=0, atol=1e-12)
    assert (relative - absolute).abs().max() > 1e-3


def test_relative_motion_is_the_official_three_term_latent(g64, enc):
    start = enc.d[1:2]
    with torch.no_grad():
        got = g64(enc.s, enc.d, start=start)
        q = g64.dec.direction
        # official Synthesis: z + (Q a_target - Q a_start) + Q a_source
        w = enc.z + (q(enc.alpha_d) - q(enc.alpha_d[1:2])) + q(enc.alpha_s)
        expected = g64.dec.render(w, [f.expand(2, -1, -1, -1) for f in enc.feats])
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-10)


def test_reference_decodes_the_appearance_latent_alone(g64, enc):
    with torch.no_grad():
        ref = g64.reference(enc.s)
        torch.testing.assert_close(ref, g64.dec.render(enc.z, enc.feats), rtol=0, atol=0)
        with_motion = g64.decode(enc.z, enc.feats, enc.alpha_s)
    assert (ref - with_motion).abs().max() > 1e-3  # z alone is not z + Q a(s)


def test_decode_broadcasts_one_source_over_a_batch_of_motions(g64, enc):
    with torch.no_grad():
        batched = g64.decode(enc.z, enc.feats, enc.alpha_d)
        single = torch.cat([g64.decode(enc.z, enc.feats, enc.alpha_d[i : i + 1]) for i in range(2)])
    assert batched.shape == (2, 3, 64, 64)
    torch.testing.assert_close(batched, single, rtol=0, atol=1e-10)
    assert (batched[0] - batched[1]).abs().max() > 1e-3


def test_directions_are_orthonormal(g64):
    q = g64.directions()
    assert q.shape == (512, 20)
    torch.testing.assert_close(q.T @ q, torch.eye(20, dtype=q.dtype), rtol=0, atol=1e-12)


def test_motion_from_latent_equals_encode_motion(g64, enc):
    with torch.no_grad():
        torch.testing.assert_close(g64.motion_from_latent(enc.z), enc.alpha_s, rtol=0, atol=0)


def test_wrong_image_size_is_a_clear_error(g64):
    with pytest.raises(ValueError, match=r"\[B, 3, 64, 64\]"):
        g64.encode_appearance(torch.zeros(1, 3, 128, 128, dtype=torch.float64))


def test_only_the_official_dead_parameters_get_no_gradient(enc):
    torch.manual_seed(0)
    g = Generator(32)
    s, d = (torch.nn.functional.interpolate(x.float(), size=32) for x in (enc.s, enc.d))
    g(s, d[:1]).square().mean().backward()
    no_grad = {k for k, p in g.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0}
    expected = {k for k, _ in g.named_parameters() if k.startswith("dec.to_rgb1.") or k.endswith(".noise.weight")}
    assert no_grad == expected
    assert len(expected) == 3 + 7  # to_rgb1 (3 tensors) and 2 * (log2(32) - 2) + 1 noise weights


def test_config_round_trip_and_double_keeps_the_float32_grid():
    g = Generator(32, motion_dim=10)
    assert Generator.from_config(g.config).config == {"size": 32, "style_dim": 512, "motion_dim": 10}
    grid = g.dec.to_flows[-1].grid.clone()
    g.double()
    assert g.dec.to_flows[-1].grid.dtype == torch.float64
    assert torch.equal(g.dec.to_flows[-1].grid, grid.double())
