"""LIA-X building blocks that differ from LIA's (the shared ones come from :mod:`lia.layers`).

What LIA-X changes (upstream commit 6ec550a, ``networks/ops.py``, ``encoder.py``, ``decoder.py``):

* the fused leaky ReLU keeps its bias as ``[C]`` (LIA: ``[1, C, 1, 1]``); same maths,
  ``sqrt(2) * leaky_relu(x + b, 0.2)``;
* ``ConvLayer`` can upsample: 2x zero insertion + the blur kernel times 4 (``Upsample``), then a
  stride-1 convolution;
* ``StyledConv`` has no noise slot; ``ToRGB``/``ToFlow`` keep their upsampler as ``up``;
* ``ToFlow`` samples with ``align_corners=True`` (a zero flow is then exactly the identity) and
  builds its float32 ``linspace`` grid for the map it is given;
* ``FlowResBlock``: ``c1 = conv1(x)``, ``c1 + gamma * conv2(GroupNorm32(c1))`` (layer scale
  ``gamma`` initialised to 1e-5);
* ``RefineBlock``: ``(conv2(conv1(x)) + x) / sqrt(2)`` at constant resolution, refining the warped
  features;
* ``DownBlock`` (the encoder's residual block): ``conv1`` already maps ``cin -> cout``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lia.layers import BLUR_KERNEL, Blur, EqualConv2d, ModulatedConv2d, Upsample, fused_leaky_relu

GROUPS = 32  # GroupNorm groups in every FlowResBlock
NORM_EPS = 1e-5
GAMMA_INIT = 1e-5
# grid_sample settings of the upstream ToFlow (torch defaults there, pinned here)
SAMPLE_MODE = "bilinear"
SAMPLE_PADDING = "zeros"
ALIGN_CORNERS = True


class FusedLeakyReLU(nn.Module):
    """Bias add, leaky ReLU (0.2), gain sqrt(2); ``bias`` is ``[C]``."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)

    def extra_repr(self) -> str:
        return f"{self.bias.shape[0]}"


class ConvLayer(nn.Sequential):
    """[Blur | Upsample] -> EqualConv2d -> [FusedLeakyReLU] (indices are key names)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False,
                 upsample: bool = False, bias: bool = True, activate: bool = True):
        if downsample and upsample:
            raise ValueError("a ConvLayer resamples one way")
        if activate and not bias:
            raise ValueError("LIA-X has no activated ConvLayer without bias")
        layers: list[nn.Module] = []
        stride, padding = 1, kernel_size // 2
        if downsample:
            p = (len(BLUR_KERNEL) - 2) + (kernel_size - 1)
            layers.append(Blur(pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        elif upsample:
            layers.append(Upsample())
        layers.append(EqualConv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channels))
        super().__init__(*layers)


class DownBlock(nn.Module):
    """Encoder residual block halving the resolution: ``(conv2(conv1(x)) + skip(x)) / sqrt(2)``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, out_channels, 3)
        self.conv2 = ConvLayer(out_channels, out_channels, 3, downsample=True)
        self.skip = ConvLayer(in_channels, out_channels, 1, downsample=True, activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


class RefineBlock(nn.Module):
    """Residual block at constant width and resolution: ``(conv2(conv1(x)) + x) / sqrt(2)``."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.conv2 = ConvLayer(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + x) / math.sqrt(2.0)


class StyledConv(nn.Module):
    """Modulated, demodulated convolution (optionally 2x up) and the fused leaky ReLU; no noise."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, kernel_size, style_dim, demodulate=True, upsample=upsample)
        self.activate = FusedLeakyReLU(out_channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.conv(x, style, activation_bias=self.activate.bias)


class FlowResBlock(nn.Module):
    """``c1 = conv1(x, w)``; ``c1 + gamma * conv2(GroupNorm(c1), w)``."""

    def __init__(self, channels: int, style_dim: int):
        super().__init__()
        self.norm = nn.GroupNorm(GROUPS, channels, eps=NORM_EPS, affine=True)
        self.conv1 = StyledConv(channels, channels, 3, style_dim)
        self.conv2 = StyledConv(channels, channels, 3, style_dim)
        self.gamma = nn.Parameter(torch.full((1, channels, 1, 1), GAMMA_INIT))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x, style)
        return h + self.gamma * self.conv2(self.norm(h), style)


class ToRGB(nn.Module):
    """Unmodulated 1x1 ConvLayer + bias, plus the upsampled coarser image."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.up = Upsample()
        self.conv = ConvLayer(in_channels, 3, 1)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x) + self.bias
        return out if skip is None else out + self.up(skip)


def identity_grid(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """``[1, n, n, 2]`` sampling grid (last axis x, y): ``torch.linspace(-1, 1, n)`` in float32, as upstream."""
    xs = torch.linspace(-1.0, 1.0, n, dtype=torch.float32)
    gy, gx = torch.meshgrid(xs, xs, indexing="ij")
    return torch.stack((gx, gy), dim=-1)[None].to(device)


class ToFlow(nn.Module):
    """Predict a flow (2 channels, ``tanh`` offsets on the identity grid) and a mask (``sigmoid``),
    warp the encoder feature map, and blend: returns (warped * mask, blend with ``h``, raw prediction).

    The raw prediction accumulates over levels (the coarser one upsampled and added).
    """

    def __init__(self, in_channels: int, style_dim: int):
        super().__init__()
        self.up = Upsample()
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, h: torch.Tensor, style: torch.Tensor, feat: torch.Tensor,
                skip: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.conv(h, style) + self.bias
        if skip is not None:
            out = out + self.up(skip)
        grid = torch.tanh(out[:, 0:2]).permute(0, 2, 3, 1) + identity_grid(out.shape[2], out.device).to(out.dtype)
        mask = torch.sigmoid(out[:, 2:3])
        warped = F.grid_sample(feat, grid, mode=SAMPLE_MODE, padding_mode=SAMPLE_PADDING, align_corners=ALIGN_CORNERS) * mask
        return warped, warped + (1 - mask) * h, out
