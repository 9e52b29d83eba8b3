"""Building blocks against their definitions (lia.md §2), in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lia.layers import Blur, ConvLayer, EqualConv2d, EqualLinear, FusedLeakyReLU, ModulatedConv2d, Upsample, make_kernel, upfirdn2d


def upfirdn2d_loops(x: np.ndarray, k: np.ndarray, up: int, down: int, pad: tuple[int, int]) -> np.ndarray:
    """Literal reading of the definition: zero insertion, padding, flipped-kernel correlation, stride."""
    b, c, h, w = x.shape
    u = np.zeros((b, c, h * up, w * up))
    u[:, :, ::up, ::up] = x
    p0, p1 = pad
    u = np.pad(u, ((0, 0), (0, 0), (p0, p1), (p0, p1)))
    kf = k[::-1, ::-1]
    kh, kw = k.shape
    oh, ow = u.shape[2] - kh + 1, u.shape[3] - kw + 1
    out = np.zeros((b, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = (u[:, :, i : i + kh, j : j + kw] * kf).sum(axis=(2, 3))
    return out[:, :, ::down, ::down]


@pytest.mark.parametrize("up,down,pad", [(1, 1, (2, 2)), (2, 1, (2, 1)), (1, 2, (1, 1)), (2, 2, (1, 0))])
def test_upfirdn2d_matches_definition(up, down, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 7))
    k = rng.standard_normal((4, 4))  # asymmetric, so a missing flip would show
    got = upfirdn2d(torch.from_numpy(x), torch.from_numpy(k), up=up, down=down, pad=pad).numpy()
    np.testing.assert_allclose(got, upfirdn2d_loops(x, k, up, down, pad), atol=1e-12)


def test_resampling_sizes_and_gain():
    x = torch.ones(1, 2, 8, 8, dtype=torch.float64)
    up = Upsample().double()(x)
    assert up.shape == (1, 2, 16, 16)
    # The 4K kernel keeps the mean after zero insertion: interior of a constant image stays constant.
    torch.testing.assert_close(up[..., 2:-2, 2:-2], torch.ones_like(up[..., 2:-2, 2:-2]))
    torch.testing.assert_close(make_kernel([1, 3, 3, 1]).sum(), torch.tensor(1.0))
    blurred = Blur(pad=(2, 2)).double()(x)
    assert blurred.shape == (1, 2, 9, 9)


def test_equal_conv_and_linear_scale_at_run_time():
    torch.manual_seed(0)
    conv = EqualConv2d(4, 5, 3, padding=1).double()
    x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    torch.testing.assert_close(conv(x), F.conv2d(x, conv.weight / math.sqrt(4 * 9), conv.bias, padding=1))
    lin = EqualLinear(8, 3, bias_init=0.5, activation=True).double()
    v = torch.randn(4, 8, dtype=torch.float64)
    expected = math.sqrt(2) * F.leaky_relu(v @ (lin.weight / math.sqrt(8)).T + 0.5, 0.2)
    torch.testing.assert_close(lin(v), expected)


def test_conv_layer_keys_and_bias_placement():
    assert [k for k in ConvLayer(3, 8, 1).state_dict()] == ["0.weight", "1.bias"]
    assert FusedLeakyReLU(8).bias.shape == (1, 8, 1, 1)
    assert [k for k in ConvLayer(3, 8, 3, downsample=True).state_dict()] == ["0.kernel", "1.weight", "2.bias"]
    # no activation -> the conv would own the bias; with bias=False there is none at all
    assert [k for k in ConvLayer(3, 8, 1, downsample=True, activate=False, bias=False).state_dict()] == ["0.kernel", "1.weight"]


def per_sample_modulated_conv(m: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """The official formulation: per-sample modulated (and demodulated) weights, one sample at a time."""
    outs = []
    for b in range(x.shape[0]):
        s = m.modulation(style[b : b + 1])[0]
        w = m.scale * m.weight[0] * s[None, :, None, None]
        if m.demodulate:
            w = w * torch.rsqrt(w.pow(2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        if m.upsample:
            o = m.blur(F.conv_transpose2d(x[b : b + 1], w.transpose(0, 1), stride=2))
        else:
            o = F.conv2d(x[b : b + 1], w, padding=m.kernel_size // 2)
        outs.append(o)
    return torch.cat(outs)


@pytest.mark.parametrize("kernel,demodulate,upsample", [(3, True, False), (3, True, True), (1, False, False)])
def test_modulated_conv_equals_per_sample_weights(kernel, demodulate, upsample):
    torch.manual_seed(0)
    m = ModulatedConv2d(6, 5, kernel, 16, demodulate=demodulate, upsample=upsample).double()
    with torch.no_grad():
        m.modulation.bias.normal_()  # default init is all ones, which would hide a wrong axis
    x = torch.randn(3, 6, 8, 8, dtype=torch.float64)
    style = torch.randn(3, 16, dtype=torch.float64)
    out = m(x, style)
    assert out.shape == (3, 5, 16 if upsample else 8, 16 if upsample else 8)
    torch.testing.assert_close(out, per_sample_modulated_conv(m, x, style), rtol=0, atol=1e-12)


def test_layer_reprs_show_shapes():
    assert "512, 256, kernel_size=3" in repr(ModulatedConv2d(512, 256, 3, 512, upsample=True))
    assert "upsample=True" in repr(ModulatedConv2d(512, 256, 3, 512, upsample=True))
    assert "3, 64, kernel_size=1" in repr(EqualConv2d(3, 64, 1))
    assert "8192, 512" in repr(EqualLinear(8192, 512, activation=True))
