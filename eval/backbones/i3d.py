"""Inception-v1 I3D (Kinetics-400), the FVD / KVD backbone.

Our own module whose ``state_dict()`` is exactly the layout of ``i3d_pretrained_400.pt`` (the
state dict VideoGPT converted from the tf.hub ``deepmind/i3d-kinetics-400/1`` module and that
DIGAN, TATS and cd-fvd load): TF endpoint names (``Conv3d_1a_7x7`` … ``Mixed_5c``, ``logits``),
units made of ``conv3d`` (no bias) + ``bn``, branches ``b0 b1a b1b b2a b2b b3b``.

Numerics follow that lineage: TF "SAME" padding computed from the input size at run time,
BatchNorm eps 1e-5 (the TF original uses 1e-3; see :func:`state_from_foreign`), max-pool padding
with zeros (every pooled input follows a ReLU, so this equals TF's −inf padding), and the
feature is the 400-d logits before softmax averaged over time.

StyleGAN-V ships the same network as a TorchScript file (``i3d_torchscript.pt``). Loading
TorchScript executes code from the file, so ``vhq weights import i3d_torchscript FILE`` exports
its tensors and BatchNorm eps once (``vhq.weights.convert``); :func:`load_i3d` maps that export
onto this module's keys with :func:`state_from_foreign` and loads with ``weights_only=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eval.backbones.common import load_strict, strip_prefix, unwrap_state_dict
from vhq import weights
from vhq.errors import BadInput
from vhq.weights.convert import TORCHSCRIPT_EXPORT, load_plain

FEATURE_DIM = 400
MIN_FRAMES = 9  # time shrinks to ceil(T/8) before the [2,7,7] average pool
BN_EPS = 1e-5
BN_MOMENTUM = 1e-3
TF_BN_EPS = 1e-3


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF "SAME" padding (front, back) for one axis."""
    if size % stride == 0:
        total = max(kernel - stride, 0)
    else:
        total = max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel, stride) -> torch.Tensor:
    t, h, w = x.shape[2:]
    pt, ph, pw = (_same_pad(s, k, st) for s, k, st in zip((t, h, w), kernel, stride))
    return F.pad(x, (*pw, *ph, *pt))


def _max_along(x: torch.Tensor, dim: int, kernel: int, stride: int) -> torch.Tensor:
    """Max over windows of ``kernel`` along one axis, every ``stride``-th window (no padding)."""
    n = (x.shape[dim] - kernel) // stride + 1
    parts = [x.narrow(dim, j, (n - 1) * stride + 1) for j in range(kernel)]
    if stride > 1:
        parts = [p.unfold(dim, 1, stride).squeeze(-1) for p in parts]
    if kernel == 1:
        return parts[0].contiguous()
    out = torch.maximum(parts[0], parts[1])
    for p in parts[2:]:
        out = torch.maximum(out, p) if out.requires_grad or torch.jit.is_tracing() else torch.maximum(out, p, out=out)
    return out


class MaxPool3dSame(nn.Module):
    """Max pool with TF "SAME" zero padding, as one 1-D max per axis.

    The max over a box is the max over its axes in turn, so this equals ``F.max_pool3d`` on the
    padded input exactly; it skips the window indices ``max_pool3d`` computes on CPU, which cost
    a third of the network's time at batch 4.
    """

    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x):
        x = _pad_same(x, self.kernel, self.stride)
        for axis, (k, s) in enumerate(zip(self.kernel, self.stride)):
            if k > 1 or s > 1:
                x = _max_along(x, 2 + axis, k, s)
        return x

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, padding=SAME"


class Unit3D(nn.Module):
    """Conv3d with TF SAME padding, optional BatchNorm and ReLU."""

    def __init__(self, cin, cout, kernel=(1, 1, 1), stride=(1, 1, 1), bn=True, relu=True, bias=False):
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv3d = nn.Conv3d(cin, cout, self.kernel, self.stride, padding=0, bias=bias)
        if bn:
            self.bn = nn.BatchNorm3d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)

    def forward(self, x):
        if torch.jit.is_tracing():  # an exported graph keeps its BatchNorm (and eps) visible, as published TorchScript I3Ds do
            x = self.conv3d(_pad_same(x, self.kernel, self.stride))
            x = self.bn(x) if hasattr(self, "bn") else x
            return F.relu(x) if self.relu else x
        pads = [_same_pad(s, k, st) for s, k, st in zip(x.shape[2:], self.kernel, self.stride)]
        if all(front == back for front, back in pads):  # symmetric: the convolution pads (no copy)
            padding = tuple(front for front, _ in pads)
        else:
            x, padding = _pad_same(x, self.kernel, self.stride), 0
        weight, bias = self.folded()
        x = F.conv3d(x, weight, bias, self.stride, padding)
        return F.relu_(x) if self.relu else x

    def folded(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Convolution weight and bias with the (inference) BatchNorm folded in: one pass fewer over the map.

        Kept between calls while no parameter changes (their version counters, device and dtype
        are the key); recomputed, not kept, when autograd records.
        """
        if not hasattr(self, "bn"):
            return self.conv3d.weight, self.conv3d.bias
        tensors = [*self.conv3d.parameters(), *self.bn.parameters(), *self.bn.buffers()]
        if torch.is_grad_enabled() or any(t.is_inference() for t in tensors):  # nothing safe to keep
            return self._fold()
        key = tuple((t.data_ptr(), t._version, t.device, t.dtype) for t in tensors)
        if getattr(self, "_folded_key", None) != key:
            with torch.inference_mode(False), torch.no_grad():
                self._folded = self._fold()
            self._folded_key = key
        return self._folded

    def _fold(self) -> tuple[torch.Tensor, torch.Tensor]:
        w, b, bn = self.conv3d.weight, self.conv3d.bias, self.bn
        scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        if b is not None:
            shift = shift + b * scale
        return w * scale.view(-1, 1, 1, 1, 1), shift


class InceptionBlock(nn.Module):
    """Four branches: 1×1; 1×1→3×3; 1×1→3×3; 3×3 max-pool→1×1 (channels concatenated)."""

    def __init__(self, cin, c):
        super().__init__()
        self.b0 = Unit3D(cin, c[0])
        self.b1a = Unit3D(cin, c[1])
        self.b1b = Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a = Unit3D(cin, c[3])
        self.b2b = Unit3D(c[3], c[4], (3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(cin, c[5])
        self.out_channels = c[0] + c[2] + c[4] + c[5]

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


# (endpoint, kind, arguments) in network order.
_LAYOUT = [
    ("Conv3d_1a_7x7", "unit", (3, 64, (7, 7, 7), (2, 2, 2))),
    ("MaxPool3d_2a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Conv3d_2b_1x1", "unit", (64, 64, (1, 1, 1), (1, 1, 1))),
    ("Conv3d_2c_3x3", "unit", (64, 192, (3, 3, 3), (1, 1, 1))),
    ("MaxPool3d_3a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Mixed_3b", "mixed", (192, (64, 96, 128, 16, 32, 32))),
    ("Mixed_3c", "mixed", (256, (128, 128, 192, 32, 96, 64))),
    ("MaxPool3d_4a_3x3", "pool", ((3, 3, 3), (2, 2, 2))),
    ("Mixed_4b", "mixed", (480, (192, 96, 208, 16, 48, 64))),
    ("Mixed_4c", "mixed", (512, (160, 112, 224, 24, 64, 64))),
    ("Mixed_4d", "mixed", (512, (128, 128, 256, 24, 64, 64))),
    ("Mixed_4e", "mixed", (512, (112, 144, 288, 32, 64, 64))),
    ("Mixed_4f", "mixed", (528, (256, 160, 320, 32, 128, 128))),
    ("MaxPool3d_5a_2x2", "pool", ((2, 2, 2), (2, 2, 2))),
    ("Mixed_5b", "mixed", (832, (256, 160, 320, 32, 128, 128))),
    ("Mixed_5c", "mixed", (832, (384, 192, 384, 48, 128, 128))),
]


class InceptionI3d(nn.Module):
    """I3D returning the 400-d Kinetics logits averaged over time (the FVD embedding).

    Input: float ``[B, 3, T, 224, 224]`` in [-1, 1], T ≥ 9. Other spatial sizes run (the final
    7×7 average pool shrinks to the map when it is smaller, and remaining positions are
    averaged) but only 224 is the protocol; it exists for cheap plumbing tests.
    """

    def __init__(self, num_classes: int = FEATURE_DIM, in_channels: int = 3):
        super().__init__()
        for name, kind, args in _LAYOUT:
            if kind == "unit":
                cin, cout, k, s = args
                module = Unit3D(in_channels if name == "Conv3d_1a_7x7" else cin, cout, k, s)
            elif kind == "pool":
                module = MaxPool3dSame(*args)
            else:
                module = InceptionBlock(*args)
            self.add_module(name, module)
        self.dropout = nn.Dropout(0.5)
        self.logits = Unit3D(1024, num_classes, bn=False, relu=False, bias=True)
        self.train(False)

    def train(self, mode: bool = True):
        # A feature extractor: BatchNorm must keep its running statistics whatever a parent does.
        return super().train(False)

    def features_1024(self, x: torch.Tensor) -> torch.Tensor:
        for name, _, _ in _LAYOUT:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != 3:
            raise BadInput(f"I3D input must be [B, 3, T, H, W], got {tuple(x.shape)}")
        if x.shape[2] < MIN_FRAMES:
            raise BadInput(f"I3D needs at least {MIN_FRAMES} frames per clip, got {x.shape[2]}")
        x = self.features_1024(x)
        kernel = (2, min(7, x.shape[3]), min(7, x.shape[4]))
        x = F.avg_pool3d(x, kernel, stride=1)
        x = self.logits(self.dropout(x))  # [B, 400, t, h, w]; h = w = 1 at 224
        return x.mean(dim=(3, 4)).mean(dim=2)


def load_i3d(weight: str = "i3d_pretrained_400", device: torch.device | str = "cpu") -> InceptionI3d:
    """Our I3D with ``weight`` from the registry (``i3d_pretrained_400`` or an imported ``i3d_torchscript``)."""
    path = weights.path(weight)
    raw = load_plain(path)
    if isinstance(raw, dict) and raw.get("format") == TORCHSCRIPT_EXPORT:
        state = state_from_foreign(raw["tensors"], raw["batchnorm_eps"], str(path))
    else:
        state = unwrap_state_dict(raw, path, "I3D")
    model = InceptionI3d()
    load_strict(model, state, path, "I3D")
    return model.eval().to(device)


# ---------------------------------------------------------------- other I3D ports


def _units(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Conv-bearing units of ``model`` in execution order: (prefix, module with conv3d[/bn])."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, Unit3D)]


def _script_units(state: dict, eps_of: dict) -> list[dict]:
    """Group a foreign state dict into conv units in file order.

    A unit is a 5-D conv weight (with its bias, if any) followed by the BatchNorm whose
    ``running_mean`` length equals the conv's output channels, if one follows before the next
    conv. BN parameters may be absent (affine=False) or the BN folded away altogether.
    """
    groups: dict[str, dict] = {}
    order: list[str] = []
    for key, value in state.items():
        owner, _, leaf = key.rpartition(".")
        if owner not in groups:
            groups[owner] = {}
            order.append(owner)
        groups[owner][leaf] = value
    units: list[dict] = []
    for owner in order:
        g = groups[owner]
        if "weight" in g and g["weight"].ndim == 5:
            units.append({"name": owner, "weight": g["weight"], "bias": g.get("bias"), "bn": None})
        elif "running_mean" in g:
            if not units or units[-1]["bn"] is not None or units[-1]["weight"].shape[0] != g["running_mean"].shape[0]:
                raise BadInput(f"BatchNorm {owner!r} does not follow a convolution with {g['running_mean'].shape[0]} outputs")
            units[-1]["bn"] = dict(g, eps=eps_of.get(owner, TF_BN_EPS))
    return units


def _named_units(plain: dict, targets, eps_of: dict) -> list[dict] | None:
    """Units read by our own key names (a port in the VideoGPT layout), or None if names differ."""
    units = []
    for prefix, module in targets:
        w = plain.get(f"{prefix}.conv3d.weight")
        if w is None:
            return None
        bn = None
        if hasattr(module, "bn"):
            leaves = ("weight", "bias", "running_mean", "running_var")
            bn = {k: plain[f"{prefix}.bn.{k}"] for k in leaves if f"{prefix}.bn.{k}" in plain}
            if "running_mean" not in bn:
                return None
            bn["eps"] = eps_of.get(f"{prefix}.bn", BN_EPS)
        units.append({"name": prefix, "weight": w, "bias": plain.get(f"{prefix}.conv3d.bias"), "bn": bn})
    return units


def state_from_foreign(state: dict, eps_of: dict | None = None, source: str = "file") -> dict:
    """Map another I3D port's tensors onto our keys (by name when they match, else by order).

    ``eps_of`` maps the source's BatchNorm module names to their eps (TF's 1e-3 is assumed for
    foreign names, ours for our names). Differences are folded into ``running_var``
    (var' = var + eps − 1e-5) so our eps-1e-5 module computes exactly what the source computed;
    a BN folded into the conv bias becomes an identity BN plus that bias.
    """
    eps_of = eps_of or {}
    plain = strip_prefix(dict(state))
    targets = _units(InceptionI3d())
    units = _named_units(plain, targets, eps_of)
    if units is None:
        units = _script_units(plain, eps_of)
    if len(units) != len(targets):
        raise BadInput(f"{source}: found {len(units)} convolution units, an I3D has {len(targets)}")
    out: dict[str, torch.Tensor] = {}
    for (prefix, module), unit in zip(targets, units):
        w = unit["weight"]
        if tuple(w.shape) != tuple(module.conv3d.weight.shape):
            raise BadInput(f"{source}: convolution {unit['name']!r} has shape {tuple(w.shape)}, expected {tuple(module.conv3d.weight.shape)} for {prefix}")
        out[f"{prefix}.conv3d.weight"] = w.detach().float().clone()
        c = w.shape[0]
        if not hasattr(module, "bn"):  # the logits layer: conv with bias, no BN
            bias = unit["bias"] if unit["bias"] is not None else torch.zeros(c)
            out[f"{prefix}.conv3d.bias"] = bias.detach().float().clone()
            continue
        bn = unit["bn"]
        conv_bias = unit["bias"].detach().double() if unit["bias"] is not None else torch.zeros(c, dtype=torch.float64)
        if bn is None:  # folded: y = conv(x) + b
            mean, var, eps = torch.zeros(c, dtype=torch.float64), torch.full((c,), 1.0 - BN_EPS, dtype=torch.float64), BN_EPS
            gamma, beta = torch.ones(c, dtype=torch.float64), conv_bias
        else:
            mean, var, eps = bn["running_mean"].double(), bn["running_var"].double(), float(bn["eps"])
            gamma = bn["weight"].double() if "weight" in bn else torch.ones(c, dtype=torch.float64)
            beta = bn["bias"].double() if "bias" in bn else torch.zeros(c, dtype=torch.float64)
            mean = mean - conv_bias  # BN(conv + b) = BN'(conv) with the mean shifted by b
        out[f"{prefix}.bn.weight"] = gamma.float()
        out[f"{prefix}.bn.bias"] = beta.float()
        out[f"{prefix}.bn.running_mean"] = mean.float()
        out[f"{prefix}.bn.running_var"] = (var + eps - BN_EPS).float()
    return out
