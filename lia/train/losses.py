"""LIA's training losses: the VGG19 pyramid perceptual loss, the non-saturating GAN losses, R1.

The generator's loss (official recipe, commit ``1091c2d``)::

    L_G = VGG(x̂, x_d) + L1(x̂, x_d) + softplus(-D(x̂)).mean()

* ``VGG`` sums ``10 · mean|φ_l(fake) − φ_l(real)|`` over 4 pyramid scales (1, 1/2, 1/4, 1/8; FOMM's
  anti-aliased Gaussian pyramid) and the 5 taps relu1_1 … relu5_1 of torchvision's VGG19; both
  images are clamped to [-1, 1], mapped to [0, 1] and ImageNet-normalised first;
* ``L1`` is the mean absolute error on [-1, 1] images.

The discriminator's loss is ``softplus(-D(x_d)).mean() + softplus(D(x̂)).mean()``; R1 (off in the
paper) adds ``γ/2 · E‖∇D(x_d)‖²``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vhq.errors import BadInput

PYRAMID_SCALES = (1.0, 0.5, 0.25, 0.125)
# torchvision vgg19().features slices ending at relu1_1, relu2_1, relu3_1, relu4_1, relu5_1.
VGG_SLICES = ((0, 2), (2, 7), (7, 12), (12, 21), (21, 30))
VGG_LAYER_WEIGHTS = (10.0, 10.0, 10.0, 10.0, 10.0)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
MIN_PERCEPTUAL_SIZE = 128  # the 1/8 level must survive VGG19's four poolings before relu5_1


class AntiAliasInterpolation2d(nn.Module):
    """Gaussian blur then subsampling by ``1/scale`` (FOMM's ``AntiAliasInterpolation2d``).

    σ = (1/scale − 1)/2, kernel size 2·round(4σ)+1, zero padding of half the kernel, every
    ``int(1/scale)``-th pixel kept. ``scale == 1`` is the identity.
    """

    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.scale = float(scale)
        self.channels = channels
        sigma = (1 / scale - 1) / 2
        size = 2 * round(sigma * 4) + 1
        self.ka = size // 2
        self.kb = self.ka - 1 if size % 2 == 0 else self.ka
        self.step = int(1 / scale)
        if self.scale == 1.0:
            self.register_buffer("weight", torch.ones(channels, 1, 1, 1))
            return
        grid = torch.arange(size, dtype=torch.float32)
        mean = (size - 1) / 2
        g = torch.exp(-((grid - mean) ** 2) / (2 * sigma**2))
        kernel = g[:, None] * g[None, :]
        kernel = kernel / kernel.sum()
        self.register_buffer("weight", kernel.expand(channels, 1, size, size).contiguous())

    def extra_repr(self) -> str:
        return f"channels={self.channels}, scale={self.scale}, kernel={tuple(self.weight.shape[-2:])}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale == 1.0:
            return x
        out = F.pad(x, (self.ka, self.kb, self.ka, self.kb))
        out = F.conv2d(out, self.weight.to(out.dtype), groups=self.channels)
        return out[:, :, :: self.step, :: self.step]


class ImagePyramid(nn.Module):
    """The image at each of ``scales`` (a list, in order)."""

    def __init__(self, scales=PYRAMID_SCALES, channels: int = 3):
        super().__init__()
        self.scales = tuple(float(s) for s in scales)
        self.levels = nn.ModuleList(AntiAliasInterpolation2d(channels, s) for s in self.scales)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [level(x) for level in self.levels]


def vgg19_features() -> nn.Sequential:
    """torchvision's ``vgg19().features`` up to relu5_1 (layers 0 … 29), uninitialised weights."""
    layers: list[nn.Module] = []
    in_ch = 3
    for v in VGG19_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = v
    return nn.Sequential(*layers[: VGG_SLICES[-1][1]])


def expected_vgg19_shapes() -> dict[str, tuple[int, ...]]:
    """Key → shape of torchvision's ``vgg19`` state dict (built on the meta device: no memory)."""
    import torchvision

    with torch.device("meta"):
        model = torchvision.models.vgg19(weights=None)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def load_vgg19_features(path: str | Path) -> nn.Sequential:
    """VGG19 features (relu5_1 and below) from a torchvision ``vgg19-*.pth`` state dict.

    The file must be a complete torchvision VGG19 state dict (classifier included); only the
    convolutions are read into memory.
    """
    p = Path(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # noqa: BLE001 - any failure to unpickle means a bad file
        raise BadInput(f"{p}: not a readable torchvision VGG19 state dict ({e.__class__.__name__}: {str(e).splitlines()[0][:200]})") from None
    if not isinstance(state, dict):
        raise BadInput(f"{p}: expected a torchvision VGG19 state dict, found a {type(state).__name__}")
    expected = expected_vgg19_shapes()
    missing = [k for k in expected if k not in state]
    wrong = [k for k, s in expected.items() if k in state and tuple(state[k].shape) != s]
    extra = [k for k in state if k not in expected]
    if missing or wrong or extra:
        detail = f"missing {missing[:3]}" if missing else (f"wrong shape for {wrong[:3]}" if wrong else f"unexpected keys {extra[:3]}")
        raise BadInput(f"{p}: not torchvision's vgg19 state dict ({detail})", hint="import the file torchvision downloads for vgg19 (vgg19-dcbb9e9d.pth)")
    features = vgg19_features()
    wanted = features.state_dict().keys()
    features.load_state_dict({k: state[f"features.{k}"].clone() for k in wanted}, strict=True)
    return features


def vgg19_from_registry() -> nn.Sequential:
    """VGG19 features from the weights registry (``MissingWeights`` names the fetch/import command)."""
    from vhq import weights

    return load_vgg19_features(weights.path("vgg19"))


class VGGPerceptualLoss(nn.Module):
    """``Σ_scales Σ_taps 10 · mean|φ(fake) − φ(real)|`` over FOMM's 4-level pyramid (frozen VGG19).

    Inputs are ``[B, 3, H, W]`` in [-1, 1] with H, W ≥ 128. The real image's features carry no
    gradient (computed without a graph).
    """

    def __init__(self, features: nn.Sequential, scales=PYRAMID_SCALES, layer_weights=VGG_LAYER_WEIGHTS):
        super().__init__()
        self.pyramid = ImagePyramid(scales)
        self.slices = nn.ModuleList(features[a:b] for a, b in VGG_SLICES)
        self.layer_weights = tuple(float(w) for w in layer_weights)
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGGPerceptualLoss":
        return super().train(False)  # frozen: always in eval mode

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """relu1_1 … relu5_1 of one [-1, 1] image batch (clamped, to [0, 1], ImageNet-normalised)."""
        mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        h = (x.clamp(-1, 1) / 2 + 0.5 - mean) / std
        out = []
        for s in self.slices:
            h = s(h)
            out.append(h)
        return out

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if min(fake.shape[-2:]) < MIN_PERCEPTUAL_SIZE:
            raise ValueError(f"the VGG pyramid loss needs images of at least {MIN_PERCEPTUAL_SIZE}px, got {tuple(fake.shape[-2:])}")
        with torch.no_grad():
            real_taps = [self.taps(r) for r in self.pyramid(real)]
        loss = fake.new_zeros(())
        for f, r_taps in zip(self.pyramid(fake), real_taps):
            for w, a, b in zip(self.layer_weights, self.taps(f), r_taps):
                loss = loss + w * (a - b).abs().mean()
        return loss


def g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator's non-saturating GAN loss ``softplus(-D(x̂)).mean()``."""
    return F.softplus(-fake_logits).mean()


def d_logistic(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Discriminator's logistic loss terms ``softplus(-D(x)).mean()``, ``softplus(D(x̂)).mean()``."""
    return F.softplus(-real_logits).mean(), F.softplus(fake_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """``E‖∇_x D(x)‖²`` on real images (``real`` must require grad); keeps the graph for backward."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()
