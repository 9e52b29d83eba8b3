"""LIA-X decoder: the latent ``w = z + Q alpha`` drives a StyleGAN2-like trunk that predicts, at
every level (8, 16, ..., size), a flow and a mask warping the encoder's feature map of that size.

Per level ``n`` (key names ``conv{n}_1``, ``conv{n}_2``, ``conv{n}_2_up``, ``conv{n}_2_rgb``,
``rgb{n}``, ``flow{n}``; ``n`` = ``_512`` for the 8x8 level, then ``2``, ``3``, ...)::

    h = conv{n}_1(h, w)                      # StyledConv, 2x up
    h = conv{n}_2[0..3](h, w)                # FlowResBlocks
    warp, h, flow = flow{n}(h, w, feat_n, flow)   # warp the skip features, blend into h
    warp = warp + conv{n}_2_up(warp_prev)    # the previous level's warped features, 2x up (not at 8x8)
    warp = conv{n}_2_rgb[0..3](warp)         # RefineBlocks
    rgb = rgb{n}(warp, rgb)                  # ToRGB, adding the upsampled coarser image

There is no output activation: images are not bounded to [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from lia.decoder import Direction
from lia.layers import ConstantInput
from lia.x.config import FIRST_LEVEL, LiaXConfig, level_name
from lia.x.layers import ConvLayer, FlowResBlock, RefineBlock, StyledConv, ToFlow, ToRGB

BLOCKS = 4  # FlowResBlocks and RefineBlocks per level


class Decoder(nn.Module):
    def __init__(self, config: LiaXConfig):
        super().__init__()
        style = config.style_dim
        self.size = config.size
        self.direction = Direction(style, config.motion_dim)
        top = config.width(FIRST_LEVEL // 2)
        self.input = ConstantInput(top, size=FIRST_LEVEL // 2)
        self.conv1 = StyledConv(top, top, 3, style)
        self.level_names = []
        prev = top
        for j in range(config.levels):
            n, c = level_name(j), config.width(FIRST_LEVEL * 2**j)
            setattr(self, f"conv{n}_1", StyledConv(prev, c, 3, style, upsample=True))
            setattr(self, f"conv{n}_2", nn.ModuleList(FlowResBlock(c, style) for _ in range(BLOCKS)))
            if j > 0:
                setattr(self, f"conv{n}_2_up", ConvLayer(prev, c, 3, upsample=True))
            setattr(self, f"conv{n}_2_rgb", nn.ModuleList(RefineBlock(c) for _ in range(BLOCKS)))
            setattr(self, f"rgb{n}", ToRGB(c))
            setattr(self, f"flow{n}", ToFlow(c, style))
            self.level_names.append(n)
            prev = c

    def latent(self, z: torch.Tensor, motion: torch.Tensor | None) -> torch.Tensor:
        """``z + Q motion`` (``z`` alone when ``motion`` is None)."""
        return z if motion is None else z + self.direction(motion)

    def render(self, w: torch.Tensor, feats: list[torch.Tensor]) -> torch.Tensor:
        """Decode the latent ``w`` ``[B, style_dim]`` with the encoder's skip features (8x8 ... size)."""
        if len(feats) != len(self.level_names):
            raise ValueError(f"expected {len(self.level_names)} feature maps (8x8 ... {self.size}), got {len(feats)}")
        h = self.conv1(self.input(w.shape[0]), w)
        warp = rgb = flow = None
        for n, feat in zip(self.level_names, feats):
            h = getattr(self, f"conv{n}_1")(h, w)
            for block in getattr(self, f"conv{n}_2"):
                h = block(h, w)
            new_warp, h, flow = getattr(self, f"flow{n}")(h, w, feat, flow)
            if warp is not None:
                new_warp = new_warp + getattr(self, f"conv{n}_2_up")(warp)
            for block in getattr(self, f"conv{n}_2_rgb"):
                new_warp = block(new_warp)
            warp = new_warp
            rgb = getattr(self, f"rgb{n}")(warp, rgb)
        return rgb

    def forward(self, z: torch.Tensor, motion: torch.Tensor | None, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.render(self.latent(z, motion), feats)
