"""OpenFace nn4.small2.v1 as pose-evaluation runs it: the network behind every published AED.

pose-evaluation's ``extract.py --type face_id`` embeds frames with the PyTorch port of
thnkim/OpenFacePytorch (``loadOpenFace.py``, weights ``openface.pth``); FOMM, MRAA and LIA report
its AED. This module rebuilds that network in plain PyTorch with the port's state-dict key names
(``layer1.weight`` … ``layer21.seq_list.3.2_bn.running_var``, ``layer25.bias``) and its numerics:

- Cross-map LRN (size 5, α 1e-4, β 0.75, k 1) as the port computes it in the commit
  pose-evaluation pins (d002218, torch 0.4.1): ``SpatialCrossMapLRN_temp``, adapted from
  ``torch.legacy``, whose running window never drops channel 0, so from channel 3 on the sum of
  squares holds ch. 0 as well as the five-channel window. ``legacy_lrn=False`` gives the plain
  window (``nn.LocalResponseNorm``, the fallback later commits of the port take on torch ≥ 1.0).
- LP pooling (p = 2, 3×3, stride 3: the port's stride, not the Lua model's 1) and the port's
  centred zero padding of every Inception branch to the largest branch size.
- Output: ``x / sqrt(Σx² + 1e-6)``, 128-d.

Input (``preprocess``), as ``extract.py`` prepares it: the whole frame, RGB → BGR,
``skimage.transform.resize(frame, (96, 96))`` with scikit-image 0.14's defaults (uint8 → float64
in [0,1]; bilinear with half-pixel centres, no antialiasing, ``mode='constant'`` with 0 outside the
frame, output clipped to the frame's own min/max), then float32.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from eval.backbones.common import combine_provenance, load_strict, read_state_dict
from vhq import weights

SIZE = 96
EMBEDDING_DIM = 128
LRN = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 1.0}
BN_EPS = 1e-5
NORM_EPS = 1e-6


class CrossMapLRN(nn.Module):
    """Local response normalisation across channels: ``x / (k + α/n · S_c)^β``.

    ``S_c`` is the sum of squares over channels c−2 … c+2; with ``legacy`` it is the sum the
    port's ``SpatialCrossMapLRN_temp`` accumulates, which adds channel 0 to every c ≥ 3.
    """

    def __init__(self, legacy: bool = True):
        super().__init__()
        self.legacy = legacy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, half = LRN["size"], LRN["size"] // 2
        sq = x * x
        padded = nn.functional.pad(sq, (0, 0, 0, 0, half, half))
        window = sum(padded[:, i : i + x.shape[1]] for i in range(n))
        if self.legacy and x.shape[1] > half + 1:
            window = torch.cat([window[:, : half + 1], window[:, half + 1 :] + sq[:, :1]], dim=1)
        return x * (LRN["k"] + LRN["alpha"] / n * window).pow(-LRN["beta"])


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS)


class Inception(nn.Module):
    """Parallel branches concatenated on channels, each zero-padded (centred) to the largest.

    Branches, in ``seq_list`` order: one per kernel (1×1 reduce → k×k conv, both with BN+ReLU),
    the pool branch (pool → optional 1×1 conv), and an optional 1×1 branch.
    """

    def __init__(self, cin: int, kernels: tuple, strides: tuple, outs: tuple, reduces: tuple, pool: nn.Module):
        super().__init__()
        branches = []
        for k, s, cout, r in zip(kernels, strides, outs, reduces):
            branches.append(nn.Sequential(OrderedDict([
                ("1_conv", _conv(cin, r, 1)), ("2_bn", _bn(r)), ("3_relu", nn.ReLU()),
                ("4_conv", _conv(r, cout, k, s, k // 2)), ("5_bn", _bn(cout)), ("6_relu", nn.ReLU()),
            ])))
        rest = list(reduces[len(kernels):]) + [None, None]
        pool_layers: list[tuple[str, nn.Module]] = [("1_pool", pool)]
        if rest[0] is not None:
            pool_layers += [("2_conv", _conv(cin, rest[0], 1)), ("3_bn", _bn(rest[0])), ("4_relu", nn.ReLU())]
        branches.append(nn.Sequential(OrderedDict(pool_layers)))
        if rest[1] is not None:
            branches.append(nn.Sequential(OrderedDict([("1_conv", _conv(cin, rest[1], 1)), ("2_bn", _bn(rest[1])), ("3_relu", nn.ReLU())])))
        self.seq_list = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ys = [b(x) for b in self.seq_list]
        h = max(y.shape[2] for y in ys)
        w = max(y.shape[3] for y in ys)
        out = []
        for y in ys:
            top, left = (h - y.shape[2]) // 2, (w - y.shape[3]) // 2
            out.append(nn.functional.pad(y, (left, w - y.shape[3] - left, top, h - y.shape[2] - top)))
        return torch.cat(out, 1)


def _max_pool(padding: int = 0) -> nn.MaxPool2d:
    return nn.MaxPool2d(3, stride=2, padding=padding)


def _lp_pool() -> nn.LPPool2d:
    return nn.LPPool2d(2, 3, stride=3)


class OpenFaceNet(nn.Module):
    """nn4.small2.v1: BGR ``[N,3,96,96]`` in [0,1] → ``[N,128]`` embeddings (unit length up to 1e-6)."""

    def __init__(self, legacy_lrn: bool = True):
        super().__init__()
        self.layer1 = _conv(3, 64, 7, 2, 3)
        self.layer2 = _bn(64)
        self.layer4 = _max_pool(1)
        self.layer5 = CrossMapLRN(legacy_lrn)
        self.layer6 = _conv(64, 64, 1)
        self.layer7 = _bn(64)
        self.layer9 = _conv(64, 192, 3, 1, 1)
        self.layer10 = _bn(192)
        self.layer12 = CrossMapLRN(legacy_lrn)
        self.layer13 = _max_pool(1)
        self.layer14 = Inception(192, (3, 5), (1, 1), (128, 32), (96, 16, 32, 64), _max_pool())
        self.layer15 = Inception(256, (3, 5), (1, 1), (128, 64), (96, 32, 64, 64), _lp_pool())
        self.layer16 = Inception(320, (3, 5), (2, 2), (256, 64), (128, 32, None, None), _max_pool())
        self.layer17 = Inception(640, (3, 5), (1, 1), (192, 64), (96, 32, 128, 256), _lp_pool())
        self.layer18 = Inception(640, (3, 5), (2, 2), (256, 128), (160, 64, None, None), _max_pool())
        self.layer19 = Inception(1024, (3,), (1,), (384,), (96, 96, 256), _lp_pool())
        self.layer21 = Inception(736, (3,), (1,), (384,), (96, 96, 256), _max_pool())
        self.layer22 = nn.AvgPool2d(3, stride=1)
        self.layer25 = nn.Linear(736, EMBEDDING_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        relu = nn.functional.relu
        x = self.layer5(self.layer4(relu(self.layer2(self.layer1(x)))))
        x = relu(self.layer7(self.layer6(x)))
        x = self.layer13(self.layer12(relu(self.layer10(self.layer9(x)))))
        for layer in (self.layer14, self.layer15, self.layer16, self.layer17, self.layer18, self.layer19, self.layer21):
            x = layer(x)
        x = self.layer25(self.layer22(x).flatten(1))
        return x / torch.sqrt((x * x).sum(1, keepdim=True) + NORM_EPS)


def _resize_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """``[n_out, n_in]`` bilinear weights, half-pixel centres, taps outside the frame dropped (cval 0)."""
    src = (torch.arange(n_out, dtype=torch.float64) + 0.5) * (n_in / n_out) - 0.5
    lo = torch.floor(src)
    frac = src - lo
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    for idx, w in ((lo, 1 - frac), (lo + 1, frac)):
        ok = (idx >= 0) & (idx < n_in)
        m[torch.arange(n_out)[ok], idx[ok].long()] += w[ok]
    return m


def preprocess(frames: torch.Tensor) -> torch.Tensor:
    """uint8 RGB ``[T,H,W,3]`` → float32 BGR ``[T,3,96,96]`` as ``extract.py`` feeds the network."""
    x = frames.to(torch.float64).div(255.0).flip(-1).permute(0, 3, 1, 2)  # BGR, [T,3,H,W]
    ry = _resize_matrix(x.shape[2], SIZE).to(x.device)
    rx = _resize_matrix(x.shape[3], SIZE).to(x.device)
    out = torch.einsum("yh,tchw,xw->tcyx", ry, x, rx)
    lo = x.amin(dim=(1, 2, 3), keepdim=True)
    hi = x.amax(dim=(1, 2, 3), keepdim=True)
    return torch.maximum(torch.minimum(out, hi), lo).to(torch.float32)


class OpenFaceEmbedder:
    """AED's identity network (``aed``): the registry's ``openface`` weights, strictly loaded, eval mode."""

    name = "openface"
    backbone_id = f"openface-nn4.small2.v1:pose-evaluation:frame:{SIZE}:lrn=legacy"

    def __init__(self, crop: str = "frame", device: str | torch.device = "cpu"):
        if crop != "frame":
            from vhq.errors import BadInput

            raise BadInput(f"--aed-crop {crop}: the OpenFace AED (aed) embeds the whole frame, as pose-evaluation does",
                           "drop --aed-crop, or score the facenet AED with --metrics aed_facenet --aed-crop mtcnn")
        path = weights.path("openface")
        net = OpenFaceNet(legacy_lrn=True)
        load_strict(net, read_state_dict(path, "OpenFace"), path, "OpenFace nn4.small2.v1")
        self.net = net.eval().to(device)
        self.device = torch.device(device)

    @staticmethod
    def provenance() -> dict:
        return combine_provenance(["openface"])

    @torch.no_grad()
    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        """128-d embeddings ``[T,128]`` (float32) of uint8 RGB frames ``[T,H,W,3]``."""
        return self.net(preprocess(frames).to(self.device)).float().cpu()
