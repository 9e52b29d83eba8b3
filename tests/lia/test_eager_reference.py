"""The fast layer implementations against the plain eager float32 ones they replaced.

``vhq.testing.lia_eager.eager_reference()`` swaps the plain formulations back in (the same maths,
written the way the official code writes it). Every layer the fast path changed is compared with
it in float32 on a random-init network in the real key layout, and so is the uint8 output of
``lia.animate``.

Tolerances (float32): each layer's output within ``LAYER_ATOL`` + ``LAYER_RTOL`` * |reference|;
a whole generator's decoded image within ``IMAGE_ATOL`` (``MATHS_ATOL`` in float64); ``animate``'s uint8 frames within 1 grey
level of the reference's frames.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lia import layers
from lia.animate import animate
from lia.layers import Blur, ConvLayer, ModulatedConv2d, ResBlock, StyledConv, Upsample
from vhq.testing.lia_eager import eager_reference, plain_upfirdn2d

LAYER_RTOL = 1e-5
LAYER_ATOL = 1e-5
# A whole decoder compounds float32 rounding through ~15 layers and the flow warps (random-init
# flows are large; 1.0e-3 seen at size 128); 2e-3 in [-1, 1] is a quarter of a grey level. In
# float64 the two agree to MATHS_ATOL: the rewrites are the same maths.
IMAGE_ATOL = 2e-3
MATHS_ATOL = 1e-9


def both(fn):
    """``fn()`` with the fast layers, then with the plain ones."""
    with torch.no_grad():
        fast = fn()
        with eager_reference():
            plain = fn()
    return fast, plain


def randomize(module: nn.Module) -> nn.Module:
    """Non-zero biases everywhere (zero init would hide a bias on the wrong axis or a missing gain)."""
    torch.manual_seed(3)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias"):
                p.normal_(0, 0.5)
    return module


def assert_layer_close(fast: torch.Tensor, plain: torch.Tensor) -> None:
    assert fast.shape == plain.shape
    torch.testing.assert_close(fast, plain, rtol=LAYER_RTOL, atol=LAYER_ATOL)


@pytest.mark.parametrize("up,down,pad", [(1, 1, (2, 2)), (1, 1, (1, 1)), (2, 1, (2, 1)), (1, 2, (1, 1)), (1, 1, (-1, 2))])
def test_upfirdn2d_matches_plain(up, down, pad):
    torch.manual_seed(0)
    x = torch.randn(2, 5, 12, 12)
    k = torch.randn(4, 4)
    assert_layer_close(layers.upfirdn2d(x, k, up=up, down=down, pad=pad), plain_upfirdn2d(x, k, up=up, down=down, pad=pad))


@pytest.mark.parametrize("build", [
    lambda: ConvLayer(6, 8, 3),
    lambda: ConvLayer(6, 8, 1),
    lambda: ConvLayer(6, 8, 3, downsample=True),
    lambda: ConvLayer(6, 8, 1, downsample=True, activate=False, bias=False),
    lambda: ResBlock(6, 8),
    lambda: Blur(pad=(2, 2)),
    lambda: Upsample(),
], ids=["conv3", "conv1", "conv3-down", "skip1-down", "resblock", "blur", "upsample"])
def test_conv_layers_match_plain(build):
    torch.manual_seed(1)
    layer = randomize(build())
    x = torch.randn(3, 6, 16, 16)
    fast, plain = both(lambda: layer(x))
    assert_layer_close(fast, plain)


@pytest.mark.parametrize("upsample", [False, True])
def test_styled_conv_matches_plain(upsample):
    torch.manual_seed(2)
    layer = randomize(StyledConv(6, 8, 3, 16, upsample=upsample))
    x, style = torch.randn(3, 6, 8, 8), torch.randn(3, 16)
    fast, plain = both(lambda: layer(x, style))
    assert_layer_close(fast, plain)


@pytest.mark.parametrize("kernel,demodulate,upsample", [(3, True, False), (3, True, True), (1, False, False)])
def test_modulated_conv_matches_plain(kernel, demodulate, upsample):
    torch.manual_seed(4)
    layer = randomize(ModulatedConv2d(6, 5, kernel, 16, demodulate=demodulate, upsample=upsample))
    x, style = torch.randn(3, 6, 8, 8), torch.randn(3, 16)
    fast, plain = both(lambda: layer(x, style))
    assert_layer_close(fast, plain)


def test_generator_layers_match_plain(generator128, astronaut128, driving128):
    """Encoder features, latent and decoded image of a whole random-init generator, in float32."""
    from lia.animate import frames_to_input

    g = generator128
    src = frames_to_input(astronaut128, 128)
    drv = frames_to_input(driving128[:2], 128)
    fast, plain = both(lambda: (g.encode_appearance(src), g.encode_motion(drv)))
    (z, feats), alpha = fast
    (z_ref, feats_ref), alpha_ref = plain
    for f, f_ref in zip(feats, feats_ref):
        assert_layer_close(f, f_ref)
    assert_layer_close(z, z_ref)
    assert_layer_close(alpha, alpha_ref)
    fast, plain = both(lambda: g.decode(z_ref, feats_ref, alpha_ref))
    torch.testing.assert_close(fast, plain, rtol=0, atol=IMAGE_ATOL)


def test_generator_is_the_same_maths_in_float64(generator128, astronaut128, driving128):
    import copy

    from lia.animate import frames_to_input

    g = copy.deepcopy(generator128).double()
    src = frames_to_input(astronaut128, 128).double()
    drv = frames_to_input(driving128[:2], 128).double()
    fast, plain = both(lambda: g.decode(*g.encode_appearance(src), g.encode_motion(drv)))
    torch.testing.assert_close(fast, plain, rtol=0, atol=MATHS_ATOL)


def test_animate_within_one_grey_level_of_plain(generator128, astronaut128, driving128):
    def run():
        return torch.cat(list(animate(generator128, astronaut128, [driving128], mode="relative", batch=3)))

    fast, plain = both(run)
    assert fast.dtype == plain.dtype == torch.uint8 and fast.shape == (5, 128, 128, 3)
    assert (fast.int() - plain.int()).abs().max().item() <= 1
