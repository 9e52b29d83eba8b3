"""Building blocks shared by the LIA encoder, decoder and discriminator.

These follow the StyleGAN2 conventions the official LIA code uses (equalised learning rate,
blur-pooled resampling, weight (de)modulation), in plain PyTorch with no compiled ops. Parameter and
buffer names match the official ones so released checkpoints load with ``strict=True``.

Notation: ``K = outer(k, k) / sum(outer(k, k))`` with ``k = [1, 3, 3, 1]`` (the blur kernel).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

BLUR_KERNEL = (1, 3, 3, 1)
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)


def make_kernel(k: Sequence[float]) -> torch.Tensor:
    """Normalised 2-D separable kernel ``outer(k, k) / sum``."""
    k = torch.tensor(k, dtype=torch.float32)
    k2 = k[None, :] * k[:, None]
    return k2 / k2.sum()


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Upsample by zero insertion, pad, filter with ``kernel``, then keep every ``down``-th sample.

    ``pad = (p0, p1)`` pads both spatial axes with ``p0`` before and ``p1`` after (negative values
    crop). The kernel is applied as a true convolution (flipped), per channel.

    Runs as one depthwise convolution (``groups=C``) with stride ``down``: folding the channels into
    the batch and filtering one channel at a time, as the official code does, is several times
    slower on CPU for the same sums.
    """
    b, c, h, w = x.shape
    p0, p1 = pad
    out = x
    if up > 1:
        # Each sample is followed by up-1 zeros along H and W.
        out = out.reshape(b, c, h, 1, w, 1)
        out = F.pad(out, (0, up - 1, 0, 0, 0, up - 1))
        out = out.reshape(b, c, h * up, w * up)
    padding = 0
    if p0 == p1 and p0 >= 0:
        padding = p0
    else:
        out = F.pad(out, (max(p0, 0), max(p1, 0), max(p0, 0), max(p1, 0)))
        if p0 < 0 or p1 < 0:
            hh, ww = out.shape[-2:]
            out = out[:, :, max(-p0, 0) : hh - max(-p1, 0), max(-p0, 0) : ww - max(-p1, 0)]
    weight = torch.flip(kernel, (0, 1)).to(out.dtype)[None, None].expand(c, 1, *kernel.shape)
    return F.conv2d(out, weight, stride=down, padding=padding, groups=c)


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``sqrt(2) * leaky_relu(x + bias, 0.2)`` with ``bias`` broadcast on the channel axis."""
    if bias.dim() == 1:
        bias = bias.reshape(1, -1, *([1] * (x.dim() - 2)))
    return F.leaky_relu(x + bias, LRELU_SLOPE) * LRELU_GAIN


class FusedLeakyReLU(nn.Module):
    """Bias add, leaky ReLU (0.2) and a sqrt(2) gain. ``bias`` is stored as ``[1, C, 1, 1]``."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fused_leaky_relu(x, self.bias)

    def extra_repr(self) -> str:
        return f"{self.bias.shape[1]}"


class Blur(nn.Module):
    """Low-pass filter with the blur kernel (scaled by ``upsample_factor**2`` after upsampling)."""

    def __init__(self, pad: tuple[int, int], upsample_factor: int = 1, kernel: Sequence[float] = BLUR_KERNEL):
        super().__init__()
        self.pad = tuple(pad)
        self.register_buffer("kernel", make_kernel(kernel) * upsample_factor**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)

    def extra_repr(self) -> str:
        return f"kernel={tuple(self.kernel.shape)}, pad={self.pad}"


class Upsample(nn.Module):
    """2x upsampling: zero insertion followed by the blur kernel times 4 (output is exactly 2H x 2W)."""

    def __init__(self, factor: int = 2, kernel: Sequence[float] = BLUR_KERNEL):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel) * factor**2)
        p = len(kernel) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)

    def extra_repr(self) -> str:
        return f"factor={self.factor}, kernel={tuple(self.kernel.shape)}, pad={self.pad}"


class EqualConv2d(nn.Module):
    """Conv2d with weights drawn from N(0, 1) and scaled by ``1/sqrt(fan_in)`` at run time."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = padding
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        o, i, k, _ = self.weight.shape
        return f"{i}, {o}, kernel_size={k}, stride={self.stride}, padding={self.padding}, bias={self.bias is not None}"


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate; ``activation`` adds a fused leaky ReLU."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, bias_init: float = 0.0, lr_mul: float = 1.0, activation: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init))) if bias else None
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = bool(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        if self.activation:
            out = F.linear(x, self.weight * self.scale)
            return fused_leaky_relu(out, bias) if bias is not None else F.leaky_relu(out, LRELU_SLOPE) * LRELU_GAIN
        return F.linear(x, self.weight * self.scale, bias=bias)

    def extra_repr(self) -> str:
        o, i = self.weight.shape
        return f"{i}, {o}, bias={self.bias is not None}, activation={'fused_lrelu' if self.activation else None}"


class ConvLayer(nn.Sequential):
    """[Blur] -> EqualConv2d -> [FusedLeakyReLU], as an ``nn.Sequential`` (its indices are key names).

    With ``downsample`` the convolution has stride 2 after a blur. The convolution carries a bias
    only when there is no activation (the activation owns the bias otherwise).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False, bias: bool = True, activate: bool = True):
        layers: list[nn.Module] = []
        if downsample:
            factor = 2
            p = (len(BLUR_KERNEL) - factor) + (kernel_size - 1)
            layers.append(Blur(pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias and not activate))
        if activate and bias:
            layers.append(FusedLeakyReLU(out_channels))
        super().__init__(*layers)
        self.downsample = downsample
        self.activated = activate and bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layers in order, with two rewrites of the same maths.

        * A 1x1 stride-2 convolution reads only every other blurred sample, so the blur runs with
          stride 2 itself (a quarter of the work).
        * ``sqrt(2) * lrelu(conv(x, W) + b) = lrelu(conv(x, sqrt(2) W, sqrt(2) b))`` (leaky ReLU is
          positively homogeneous): the bias rides in the convolution and the activation runs in
          place, one pass over the output instead of three.
        """
        conv: EqualConv2d = self[1] if self.downsample else self[0]
        stride = conv.stride
        if self.downsample:
            blur: Blur = self[0]
            if conv.weight.shape[-1] == 1:
                x, stride = upfirdn2d(x, blur.kernel, down=2, pad=blur.pad), 1
            else:
                x = blur(x)
        if not self.activated:
            return F.conv2d(x, conv.weight * conv.scale, bias=conv.bias, stride=stride, padding=conv.padding)
        act: FusedLeakyReLU = self[-1]
        out = F.conv2d(x, conv.weight * (conv.scale * LRELU_GAIN), bias=act.bias.reshape(-1) * LRELU_GAIN, stride=stride, padding=conv.padding)
        return F.leaky_relu(out, LRELU_SLOPE, inplace=True)


class ResBlock(nn.Module):
    """Residual block halving the resolution: ``(conv2(conv1(x)) + skip(x)) / sqrt(2)``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3)
        self.conv2 = ConvLayer(in_channels, out_channels, 3, downsample=True)
        self.skip = ConvLayer(in_channels, out_channels, 1, downsample=True, activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


class ModulatedConv2d(nn.Module):
    """Convolution whose weights are scaled per sample by a style vector (StyleGAN2).

    ``W' = weight / sqrt(fan_in) * s`` with ``s = modulation(style)`` on the input-channel axis,
    optionally demodulated to unit norm per output channel. With ``upsample`` a stride-2
    transposed convolution (2H+1) is followed by a blur that brings the size to exactly 2H.

    The official code builds per-sample weights and runs one grouped convolution; scaling the
    input by ``s`` and the output by the demodulation factor is the same linear map (float64 parity
    holds) and runs as an ordinary batched convolution, which is what the GPU kernels are tuned for.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int, demodulate: bool = True, upsample: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.upsample = upsample
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        if upsample:
            factor = 2
            p = (len(BLUR_KERNEL) - factor) - (kernel_size - 1)
            self.blur = Blur(pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor, style: torch.Tensor, activation_bias: torch.Tensor | None = None) -> torch.Tensor:
        """The modulated convolution; with ``activation_bias`` ``[C]`` also ``sqrt(2) lrelu(. + bias)``.

        The demodulation factor is per output channel, so it commutes with the (depthwise) blur and
        is applied once, together with the bias and the gain, in a single pass over the output.
        """
        s = self.modulation(style)  # [B, cin]
        weight = self.scale * self.weight[0]  # [cout, cin, k, k]
        x = x * s[:, :, None, None]
        if self.upsample:
            # CPU transposed convolutions run ~1.5-2x faster channels-last (no layout reorders);
            # the rest of the decoder follows the layout it is given.
            x = x.contiguous(memory_format=torch.channels_last)
            weight_t = weight.transpose(0, 1).contiguous(memory_format=torch.channels_last)
            out = self.blur(F.conv_transpose2d(x, weight_t, stride=2, padding=0))
        else:
            out = F.conv2d(x, weight, padding=self.padding)
        gain = 1.0 if activation_bias is None else LRELU_GAIN
        if self.demodulate:
            # sum over (cin, k, k) of (weight * s)^2, per sample and output channel
            norm = (s.pow(2) @ weight.pow(2).sum(dim=(2, 3)).T + 1e-8).rsqrt()  # [B, cout]
            if activation_bias is None:
                return out * norm[:, :, None, None]
            out = torch.addcmul((activation_bias * gain).reshape(1, -1, 1, 1), out, (norm * gain)[:, :, None, None])
        elif activation_bias is not None:
            out = torch.add(out, activation_bias.reshape(1, -1, 1, 1)).mul_(gain)
        else:
            return out
        return F.leaky_relu(out, LRELU_SLOPE, inplace=True)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"demodulate={self.demodulate}, upsample={self.upsample}"
        )


class NoiseInjection(nn.Module):
    """Holds the official ``weight`` so checkpoints load; LIA never feeds noise, so it is the identity."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            return x
        return x + self.weight * noise


class StyledConv(nn.Module):
    """Modulated (demodulated) conv, noise slot and fused leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, kernel_size, style_dim, demodulate=True, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channels)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        # LIA feeds no noise (the slot is the identity), so the activation fuses into the convolution
        return self.conv(x, style, activation_bias=self.activate.bias.reshape(-1))


class ConstantInput(nn.Module):
    """A learned ``[1, C, size, size]`` tensor repeated over the batch."""

    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.repeat(batch, 1, 1, 1)

    def extra_repr(self) -> str:
        return f"shape={tuple(self.input.shape)}"


def residual_trunk(size: int, channels: dict[int, int], log_size: int) -> list[nn.Module]:
    """A 1x1 ConvLayer at full resolution, then ResBlocks halving the resolution down to 4x4.

    Shared by the encoder and the discriminator (their channel tables differ); the list's order
    gives the official ``convs.<i>`` key names.
    """
    convs: list[nn.Module] = [ConvLayer(3, channels[size], 1)]
    in_ch = channels[size]
    for i in range(log_size, 2, -1):
        out_ch = channels[2 ** (i - 1)]
        convs.append(ResBlock(in_ch, out_ch))
        in_ch = out_ch
    return convs
