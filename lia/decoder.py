"""LIA decoder (``Synthesis``): a StyleGAN2-like generator that predicts flow fields and masks.

At each resolution ``ToFlow`` predicts a flow and an occlusion mask, warps the encoder's skip
feature map with them, and ``ToRGB`` renders the warped features. The image is built only from
warped encoder features; the decoder's own features reach the next level through the masked blend.
There is no output activation: images are not bounded to [-1, 1].

``source_warp`` (the TPAMI paper's improved high-resolution model) adds one module at the finest
resolution whose feature map is the RGB source image itself: ``SourceFlow`` refines the last level's
flow and mask and warps the image, ``ToRGB`` (the in-painting layer) renders it onto the last image.
Both are zero-initialised, so a model warm-started from a plain one renders exactly what it did.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lia.encoder import log2_size
from lia.layers import ConstantInput, ConvLayer, ModulatedConv2d, StyledConv, Upsample

DECODER_CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


def identity_grid(size: int) -> torch.Tensor:
    """``[1, size, size, 2]`` sampling grid (last axis = x, y) in [-1, 1].

    Built as the official code does: a float64 ``numpy.linspace`` rounded to float32. A grid built
    directly in float64 moves the output by ~4e-5, so the rounding is part of the model.
    """
    xs = np.linspace(-1, 1, size)
    grid = np.stack(np.meshgrid(xs, xs), axis=2)
    return torch.from_numpy(grid).float().unsqueeze(0)


DICTIONARIES = ("orthogonal", "random", "none")


class Direction(nn.Module):
    """Learned motion dictionary ``Q`` ``[style_dim, motion_dim]``.

    ``orthogonal`` (official): ``Q`` = orthonormal basis from ``QR(weight + 1e-8)``, Householder QR
    (``torch.linalg.qr``, reduced) like the official code; column signs follow LAPACK, and
    Gram-Schmidt would flip some of them, so it cannot replace it for released weights.
    ``random`` (the paper's Table VIII ablation): ``Q = weight`` itself, learned and never
    orthogonalised; initialised with unit-variance entries scaled by ``1/sqrt(style_dim)`` so its
    columns start with norm ~1 like an orthonormal basis.
    """

    def __init__(self, style_dim: int, motion_dim: int, orthogonal: bool = True):
        super().__init__()
        if motion_dim > style_dim:
            raise ValueError(f"motion_dim ({motion_dim}) cannot exceed style_dim ({style_dim})")
        self.orthogonal = orthogonal
        init = torch.randn(style_dim, motion_dim)
        self.weight = nn.Parameter(init if orthogonal else init / style_dim**0.5)

    def basis(self) -> torch.Tensor:
        if not self.orthogonal:
            return self.weight
        w = self.weight + 1e-8
        if w.dtype in (torch.float16, torch.bfloat16):  # no half-precision QR kernels
            return torch.linalg.qr(w.float(), mode="reduced")[0].to(w.dtype)
        return torch.linalg.qr(w, mode="reduced")[0]

    def forward(self, alpha: torch.Tensor) -> torch.Tensor:
        """``sum_i alpha_i Q[:, i]`` for ``alpha`` ``[B, M]`` -> ``[B, style_dim]``."""
        return alpha @ self.basis().T

    def extra_repr(self) -> str:
        return f"style_dim={self.weight.shape[0]}, motion_dim={self.weight.shape[1]}, orthogonal={self.orthogonal}"


class ToRGB(nn.Module):
    """Unmodulated 1x1 conv + fused leaky ReLU + bias, added to the upsampled coarser image.

    Unlike StyleGAN2's ToRGB it ignores the style and has a leaky ReLU on its 3 channels.
    """

    def __init__(self, in_channels: int, upsample: bool = True):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        if upsample:
            self.upsample = Upsample()
        self.conv = ConvLayer(in_channels, 3, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ToFlow(nn.Module):
    """Predict flow (2 channels) and mask (1 channel), warp the skip feature map, blend.

    The raw 3-channel prediction accumulates across scales (upsampled from the coarser level). The
    flow is ``tanh`` of it added to the identity grid; sampling is bilinear with zero padding and
    ``align_corners=False`` (so a zero flow is not exactly the identity: official behaviour).
    """

    def __init__(self, in_channels: int, style_dim: int, resolution: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.upsample = Upsample()
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        self.resolution = resolution
        self.register_buffer("grid", identity_grid(resolution), persistent=False)

    def forward(
        self, h: torch.Tensor, style: torch.Tensor, feat: torch.Tensor, skip: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (warped-and-masked features, blend with ``h``, raw prediction for the next level)."""
        out = self.conv(h, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        offset = torch.tanh(out[:, 0:2]).permute(0, 2, 3, 1)
        mask = torch.sigmoid(out[:, 2:3])
        grid = offset + self.grid.to(offset.dtype)
        warped = F.grid_sample(feat, grid, mode="bilinear", padding_mode="zeros", align_corners=False) * mask
        return warped, warped + h * (1 - mask), out

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}"


class SourceFlow(nn.Module):
    """Refine the last level's raw flow/mask prediction at the same resolution and warp the RGB source.

    ``o = o_last + conv(h_last, w) + bias`` (no upsampling: ``o_last`` is already at full size);
    sampling uses ``align_corners=True``, so a zero flow is exactly the identity and the image's
    border is not darkened. ``conv`` and ``bias`` start at zero: the first warp uses exactly the last
    level's flow and mask.
    """

    def __init__(self, in_channels: int, style_dim: int, resolution: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.conv = ModulatedConv2d(in_channels, 3, 1, style_dim, demodulate=False)
        nn.init.zeros_(self.conv.weight)
        self.resolution = resolution
        self.register_buffer("grid", identity_grid(resolution), persistent=False)

    def forward(self, h: torch.Tensor, style: torch.Tensor, image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        """The source image warped and masked (``[B, 3, S, S]``)."""
        out = flow + self.conv(h, style) + self.bias
        offset = torch.tanh(out[:, 0:2]).permute(0, 2, 3, 1)
        mask = torch.sigmoid(out[:, 2:3])
        grid = offset + self.grid.to(offset.dtype)
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=True) * mask

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}"


class Synthesis(nn.Module):
    """Decoder: latent ``w = z + Q alpha`` drives every layer (one vector for all layers).

    ``dictionary="none"`` has no ``direction``: the motion input is the latent displacement itself.
    """

    def __init__(self, size: int, style_dim: int = 512, motion_dim: int = 20, dictionary: str = "orthogonal", source_warp: bool = False):
        super().__init__()
        log = log2_size(size)
        if dictionary not in DICTIONARIES:
            raise ValueError(f"dictionary must be one of {', '.join(DICTIONARIES)}, got {dictionary!r}")
        ch = DECODER_CHANNELS
        self.size = size
        self.dictionary = dictionary
        self.source_warp = source_warp
        self.direction = None if dictionary == "none" else Direction(style_dim, motion_dim, orthogonal=dictionary == "orthogonal")
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], 3, style_dim)
        # Constructed but never called by the official model; kept so checkpoints load strictly.
        self.to_rgb1 = ToRGB(ch[4], upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.to_flows = nn.ModuleList()
        in_ch = ch[4]
        for i in range(3, log + 1):
            out_ch = ch[2**i]
            self.convs.append(StyledConv(in_ch, out_ch, 3, style_dim, upsample=True))
            self.convs.append(StyledConv(out_ch, out_ch, 3, style_dim))
            self.to_rgbs.append(ToRGB(out_ch))
            self.to_flows.append(ToFlow(out_ch, style_dim, 2**i))
            in_ch = out_ch
        if source_warp:
            self.src_flow = SourceFlow(in_ch, style_dim, size)
            self.src_rgb = ToRGB(3, upsample=False)  # the in-painting layer
            nn.init.zeros_(self.src_rgb.conv[0].weight)

    def latent(self, z: torch.Tensor, motion: torch.Tensor | None) -> torch.Tensor:
        """``z + Q motion`` (``z`` alone when ``motion`` is None; ``z + motion`` without a dictionary)."""
        if motion is None:
            return z
        return z + (motion if self.direction is None else self.direction(motion))

    def render(self, w: torch.Tensor, feats: list[torch.Tensor]) -> torch.Tensor:
        """Decode the latent ``w`` ``[B, style_dim]`` using the encoder skip features ``feats``.

        With ``source_warp`` the last entry of ``feats`` is the source image itself.
        """
        levels = len(self.to_flows)
        if len(feats) != levels + self.source_warp:
            extra = " and the source image" if self.source_warp else ""
            raise ValueError(f"expected {levels + self.source_warp} feature maps (8x8 ... {self.size}{extra}), got {len(feats)}")
        h = self.conv1(self.input(w.shape[0]), w)
        rgb = flow = None
        for j, (to_flow, to_rgb) in enumerate(zip(self.to_flows, self.to_rgbs)):
            h = self.convs[2 * j](h, w)
            h = self.convs[2 * j + 1](h, w)
            warped, h, flow = to_flow(h, w, feats[j], flow)
            rgb = to_rgb(warped, rgb)
        if self.source_warp:
            rgb = self.src_rgb(self.src_flow(h, w, feats[levels], flow)) + rgb
        return rgb

    def forward(self, z: torch.Tensor, motion: torch.Tensor | None, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.render(self.latent(z, motion), feats)
