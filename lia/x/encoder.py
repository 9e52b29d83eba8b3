"""LIA-X encoder: ``enc_2r`` maps an image to its appearance latent and skip features, ``enc_r2t``
maps a latent to the 40 motion magnitudes (one linear layer; LIA has five).

``enc_2r``: ``block1`` (1x1 ConvLayer at full resolution), ``block2 ...`` (``DownBlock``s, each
wrapped in an ``nn.Sequential`` as upstream, down to 8x8), ``block_512`` (8 -> 4) and ``block8``
(a 4x4 valid convolution to ``z``). The skip features are the outputs of ``block1`` ... the 8x8
block, returned coarse to fine.
"""

from __future__ import annotations

import torch
from torch import nn

from lia.layers import EqualConv2d, EqualLinear
from lia.x.config import FIRST_LEVEL, LiaXConfig
from lia.x.layers import ConvLayer, DownBlock


class Encoder2R(nn.Module):
    def __init__(self, config: LiaXConfig):
        super().__init__()
        size = config.size
        self.block1 = ConvLayer(3, config.width(size), 1)
        self.down_names = []
        r = size
        for i in range(2, config.levels + 1):
            name = f"block{i}"
            setattr(self, name, nn.Sequential(DownBlock(config.width(r), config.width(r // 2))))
            self.down_names.append(name)
            r //= 2
        assert r == FIRST_LEVEL
        self.block_512 = DownBlock(config.width(FIRST_LEVEL), config.width(FIRST_LEVEL // 2))
        self.block8 = EqualConv2d(config.width(FIRST_LEVEL // 2), config.style_dim, 4, padding=0, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``z`` ``[B, style_dim]`` and the skip features ordered 8x8, 16x16, ..., size."""
        h = self.block1(x)
        feats = [h]
        for name in self.down_names:
            h = getattr(self, name)(h)
            feats.append(h)
        z = self.block8(self.block_512(h))
        return z.flatten(1), feats[::-1]


class Encoder(nn.Module):
    def __init__(self, config: LiaXConfig):
        super().__init__()
        self.enc_2r = Encoder2R(config)
        self.enc_r2t = nn.Sequential(EqualLinear(config.style_dim, config.motion_dim))

    def appearance(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return self.enc_2r(x)

    def motion_from_latent(self, z: torch.Tensor) -> torch.Tensor:
        return self.enc_r2t(z)

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        return self.enc_r2t(self.enc_2r(x)[0])
