"""The LIA-X layers against their documented maths, one at a time (float64, tiny shapes).

Upstream's module definitions are CC BY-NC 4.0 and cannot be carried into this MIT project's test
fixtures, so each layer is checked against the formula it implements, and the decoder's wiring
against the data flow written out level by level.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lia.layers import Upsample
from lia.x.layers import ConvLayer, DownBlock, FlowResBlock, FusedLeakyReLU, RefineBlock, ToFlow, identity_grid


@pytest.fixture(autouse=True)
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def _randomise(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * (0.3 if name.endswith(("bias", "gamma")) else 1.0))
    return module


def test_fused_leaky_relu_has_a_channel_bias():
    act = _randomise(FusedLeakyReLU(4))
    x = torch.randn(2, 4, 3, 3)
    assert act.bias.shape == (4,)
    assert torch.allclose(act(x), math.sqrt(2) * F.leaky_relu(x + act.bias[None, :, None, None], 0.2), atol=1e-14)


def test_identity_grid_is_the_float32_linspace_x_then_y():
    grid = identity_grid(5)
    lin = torch.linspace(-1, 1, 5, dtype=torch.float32)
    assert grid.dtype == torch.float32 and grid.shape == (1, 5, 5, 2)
    assert torch.equal(grid[0, 2, :, 0], lin) and torch.equal(grid[0, :, 3, 1], lin)


def _flow_with_bias(bias: tuple[float, float, float], channels: int = 4) -> ToFlow:
    flow = ToFlow(channels, style_dim=8)
    with torch.no_grad():
        flow.conv.weight.zero_()
        flow.bias.copy_(torch.tensor(bias).reshape(1, 3, 1, 1))
    return flow


def test_zero_flow_is_the_identity_warp():
    # align_corners=True: the identity grid samples the pixels themselves (LIA's False mixes
    # neighbours, ~0.1 here); only the float32 grid's rounding (~1e-7 pixel) remains.
    flow = _flow_with_bias((0.0, 0.0, 0.4))
    h, feat, w = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8), torch.randn(2, 8)
    warped, blend, raw = flow(h, w, feat)
    mask = torch.sigmoid(torch.tensor(0.4))
    assert torch.allclose(warped, feat * mask, atol=1e-6)
    assert torch.allclose(blend, warped + (1 - mask) * h, atol=1e-12)
    assert torch.allclose(raw, flow.bias.expand(2, 3, 8, 8), atol=1e-14)


def test_flow_of_one_pixel_shifts_the_features_by_one_pixel():
    n = 8
    step = 2.0 / (n - 1)  # one pixel in align_corners=True coordinates
    flow = _flow_with_bias((math.atanh(step), 0.0, 30.0))  # mask sigmoid(30) = 1 - 9e-14
    feat = torch.randn(1, 4, n, n)
    warped, _, _ = flow(torch.zeros(1, 4, n, n), torch.randn(1, 8), feat)
    # the float32 identity grid rounds sample points by ~1e-7 pixel
    assert torch.allclose(warped[..., :-1], feat[..., 1:], atol=1e-5)
    assert warped[..., -1].abs().max() < 1e-5  # sampled one pixel past the edge: zero padding


def test_flow_prediction_accumulates_the_coarser_one_upsampled():
    flow = _randomise(ToFlow(4, style_dim=8))
    h, w, feat, coarse = torch.randn(1, 4, 8, 8), torch.randn(1, 8), torch.randn(1, 4, 8, 8), torch.randn(1, 3, 4, 4)
    _, _, raw_alone = flow(h, w, feat)
    _, _, raw = flow(h, w, feat, coarse)
    assert torch.allclose(raw - raw_alone, Upsample()(coarse), atol=1e-12)


def _group_norm(x: torch.Tensor, groups: int, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    b, c, h, w = x.shape
    g = x.reshape(b, groups, -1)
    g = (g - g.mean(-1, keepdim=True)) / torch.sqrt(g.var(-1, unbiased=False, keepdim=True) + eps)
    return g.reshape(b, c, h, w) * weight[None, :, None, None] + bias[None, :, None, None]


def test_flow_res_block_is_conv1_plus_gamma_times_conv2_of_group_norm():
    block = _randomise(FlowResBlock(64, style_dim=8))
    x, w = torch.randn(2, 64, 6, 6), torch.randn(2, 8)
    c1 = block.conv1(x, w)
    expected = c1 + block.gamma * block.conv2(_group_norm(c1, 32, block.norm.weight, block.norm.bias), w)
    assert torch.allclose(block(x, w), expected, atol=1e-10)
    with torch.no_grad():
        block.gamma.zero_()
    assert torch.allclose(block(x, w), c1, atol=1e-14)


def test_refine_block_keeps_size_and_adds_its_input():
    block = _randomise(RefineBlock(4))
    x = torch.randn(1, 4, 6, 6)
    conv = lambda layer, t: math.sqrt(2) * F.leaky_relu(F.conv2d(t, layer[0].weight * layer[0].scale, padding=1) + layer[1].bias[None, :, None, None], 0.2)
    expected = (conv(block.conv2, conv(block.conv1, x)) + x) / math.sqrt(2)
    assert torch.allclose(block(x), expected, atol=1e-12)


def test_down_block_changes_width_in_its_first_conv():
    block = DownBlock(4, 8)
    assert block.conv1[0].weight.shape == (8, 4, 3, 3) and block.conv2[1].weight.shape == (8, 8, 3, 3)
    assert block(torch.randn(1, 4, 8, 8)).shape == (1, 8, 4, 4)


def test_upsampling_conv_layer_is_upsample_then_stride_one_conv():
    layer = _randomise(ConvLayer(3, 5, 3, upsample=True))
    x = torch.randn(1, 3, 4, 4)
    up = Upsample()(x)
    expected = math.sqrt(2) * F.leaky_relu(F.conv2d(up, layer[1].weight * layer[1].scale, padding=1) + layer[2].bias[None, :, None, None], 0.2)
    assert up.shape == (1, 3, 8, 8)
    assert torch.allclose(layer(x), expected, atol=1e-12)
    # zero insertion + 4K: a constant image stays constant away from the borders
    assert torch.allclose(Upsample()(torch.ones(1, 1, 6, 6))[..., 2:-2, 2:-2], torch.ones(1, 1, 8, 8), atol=1e-14)
