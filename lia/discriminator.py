"""LIA's discriminator: the StyleGAN2 residual discriminator with a minibatch-stddev channel."""

from __future__ import annotations

import torch
from torch import nn

from lia.encoder import log2_size
from lia.layers import ConvLayer, EqualLinear, residual_trunk

DISCRIMINATOR_CHANNELS = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, eps: float = 1e-8) -> torch.Tensor:
    """Append one channel: the std over groups of samples, averaged over C, H, W.

    Samples ``i, i + B/G, i + 2B/G, ...`` form a group (G = min(B, group_size)); the variance is
    the biased one. The batch must be divisible by G.
    """
    b, c, h, w = x.shape
    group = min(b, group_size)
    if b % group:
        raise ValueError(f"discriminator batch {b} is not divisible by its stddev group size {group}")
    y = x.reshape(group, -1, 1, c, h, w)
    y = torch.sqrt(y.var(0, unbiased=False) + eps)
    y = y.mean(dim=(2, 3, 4), keepdim=True).squeeze(2)
    y = y.repeat(group, 1, h, w)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    def __init__(self, size: int = 256):
        super().__init__()
        log = log2_size(size)
        self.size = size
        ch = DISCRIMINATOR_CHANNELS
        convs = residual_trunk(size, ch, log)
        in_ch = ch[4]
        self.convs = nn.Sequential(*convs)
        self.stddev_group = 4
        self.final_conv = ConvLayer(in_ch + 1, ch[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 4 * 4, ch[4], activation=True), EqualLinear(ch[4], 1))

    @property
    def config(self) -> dict:
        return {"size": self.size}

    def extra_repr(self) -> str:
        return f"size={self.size}, stddev_group={self.stddev_group}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Realness logits ``[B, 1]`` for images ``[B, 3, size, size]``."""
        out = self.convs(x)
        out = minibatch_stddev(out, self.stddev_group)
        out = self.final_conv(out)
        return self.final_linear(out.flatten(1))
