"""The plain eager float32 formulation of the LIA layers, as the official code writes it.

``eager_reference()`` swaps it in for the fast one inside a ``with`` block: the blur as one
single-channel convolution over ``B*C`` images, bias add, leaky ReLU and gain as separate ops,
the demodulation applied before the blur. Tests compare the fast layers with it (tolerances in
tests/lia/test_eager_reference.py) and benchmarks/lia_infer.py runs the official demo loop with it.
It is a reference, not a model path: it patches classes and is not thread-safe.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from lia import layers
from lia.layers import ConvLayer, ModulatedConv2d, StyledConv


def plain_upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Zero insertion, padding, one flipped 2-D kernel over every (batch, channel) image, subsampling."""
    b, c, h, w = x.shape
    p0, p1 = pad
    out = x.reshape(b * c, 1, h, w)
    if up > 1:
        out = out.reshape(b * c, 1, h, 1, w, 1)
        out = F.pad(out, (0, up - 1, 0, 0, 0, up - 1))
        out = out.reshape(b * c, 1, h * up, w * up)
    out = F.pad(out, (max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)))
    if p0 < 0 or p1 < 0:
        hh, ww = out.shape[-2:]
        out = out[:, :, max(-p0, 0) : hh - max(-p1, 0), max(-p0, 0) : ww - max(-p1, 0)]
    out = F.conv2d(out, torch.flip(kernel, (0, 1)).to(out.dtype)[None, None])
    if down > 1:
        out = out[:, :, ::down, ::down]
    return out.reshape(b, c, out.shape[-2], out.shape[-1])


def plain_modulated_conv(self: ModulatedConv2d, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    s = self.modulation(style)
    weight = self.scale * self.weight[0]
    x = x * s[:, :, None, None]
    if self.upsample:
        out = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2, padding=0)
    else:
        out = F.conv2d(x, weight, padding=self.padding)
    if self.demodulate:
        norm = (s.pow(2) @ weight.pow(2).sum(dim=(2, 3)).T + 1e-8).rsqrt()
        out = out * norm[:, :, None, None]
    return self.blur(out) if self.upsample else out


def plain_styled_conv(self: StyledConv, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    return self.activate(self.noise(self.conv(x, style)))


@contextlib.contextmanager
def eager_reference() -> Iterator[None]:
    """Every LIA layer runs its plain formulation inside the block (the fast one is restored after)."""
    patches = [(layers, "upfirdn2d", plain_upfirdn2d), (ConvLayer, "forward", nn.Sequential.forward),
               (ModulatedConv2d, "forward", plain_modulated_conv), (StyledConv, "forward", plain_styled_conv)]
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    try:
        for owner, name, value in patches:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
