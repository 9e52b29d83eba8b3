"""LIA encoder: one network gives the appearance latent z, the skip features and the motion magnitudes.

``net_app`` maps an image to ``z`` (``[B, style_dim]``) plus the feature maps the decoder warps.
``fc`` maps ``z`` to the motion magnitudes ``alpha`` (``[B, motion_dim]``). The official code calls
``fc`` an MLP, but its five layers have no activation, so it is an affine map of ``z``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lia.layers import EqualConv2d, EqualLinear, residual_trunk

# The encoder's channel table ignores the channel multiplier (official behaviour).
ENCODER_CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


def log2_size(size: int) -> int:
    log = int(math.log2(size)) if size > 0 else 0
    if size < 8 or 2**log != size or size not in ENCODER_CHANNELS:
        raise ValueError(f"LIA size must be a power of two between 8 and 1024, got {size}")
    return log


class EncoderApp(nn.Module):
    """1x1 conv at full resolution, ResBlocks down to 4x4, then a 4x4 valid conv to ``z``."""

    def __init__(self, size: int, style_dim: int = 512):
        super().__init__()
        log = log2_size(size)
        ch = ENCODER_CHANNELS
        convs = residual_trunk(size, ch, log)
        in_ch = ch[4]
        convs.append(EqualConv2d(in_ch, style_dim, 4, padding=0, bias=False))
        self.convs = nn.ModuleList(convs)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Return ``z`` ``[B, style_dim]`` and the skip features ordered 8x8, 16x16, ..., size."""
        outputs = []
        h = x
        for conv in self.convs:
            h = conv(h)
            outputs.append(h)
        z = h.flatten(1)
        # Drop the 1x1 (z) and 4x4 outputs; the decoder consumes coarse to fine.
        feats = outputs[::-1][2:]
        return z, feats


class Encoder(nn.Module):
    """Appearance network ``net_app`` and the linear motion head ``fc`` (key names as the official ones)."""

    def __init__(self, size: int, style_dim: int = 512, motion_dim: int = 20):
        super().__init__()
        self.net_app = EncoderApp(size, style_dim)
        self.fc = nn.Sequential(*[EqualLinear(style_dim, style_dim) for _ in range(4)], EqualLinear(style_dim, motion_dim))

    def appearance(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return self.net_app(x)

    def motion_from_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self.fc(z)

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        z, _ = self.net_app(x)
        return self.fc(z)
