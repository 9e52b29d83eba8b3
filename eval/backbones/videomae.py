"""VideoMAE-v2 ViT-g/14 (SSv2 fine-tune), the content-debiased FVD backbone (``fvd_videomae``).

Our own module whose ``state_dict()`` is exactly the layout of ``vit_g_hybrid_pt_1200e_ssv2_ft.pth``
(526 keys): ``patch_embed.proj`` (Conv3d, tubelet 2×14×14), ``blocks.{i}`` with ``norm1``,
``attn.qkv`` (no bias tensor; ``attn.q_bias`` and ``attn.v_bias``, the key bias is zero),
``attn.proj``, ``norm2``, ``mlp.fc1``/``mlp.fc2``, then ``fc_norm`` and the 174-class ``head``.
LayerNorm eps 1e-6, exact GELU, 16 heads, no layer scale.

The position embedding is the fixed sinusoid table of "Attention is all you need" over the
flattened (t, h, w) token index; it is computed, never stored. For clips other than 16 frames
the 8-step time axis of the table is resized as VideoMAE-v2 does it (trilinear, scale
(t+0.1)/8). The feature is ``fc_norm`` of the mean token, 1408-d, before the head: what cd-fvd
(Ge et al., CVPR 2024) takes from ``forward_features``.

Input: float ``[B, 3, T, 224, 224]`` with values in [0, 1] (no mean/std normalisation: cd-fvd
does none). Other spatial sizes run with a table built for their own token grid; they exist
for plumbing tests only.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from eval.backbones.common import load_strict, read_state_dict
from vhq import weights
from vhq.errors import BadInput

FEATURE_DIM = 1408
EMBED_DIM = 1408
DEPTH = 40
NUM_HEADS = 16
MLP_HIDDEN = 6144  # int(1408 * 48 / 11)
NUM_CLASSES = 174
PATCH = 14
TUBELET = 2
FRAMES = 16
IMAGE_SIZE = 224
LN_EPS = 1e-6
POS_BASE = 10000.0


def sinusoid_table(n_position: int, dim: int) -> torch.Tensor:
    """``[n_position, dim]``: sin(p / 10000^(2⌊j/2⌋/dim)) at even j, cos at odd j (float64 → float32)."""
    pos = torch.arange(n_position, dtype=torch.float64)[:, None]
    j = torch.arange(dim, dtype=torch.float64)[None, :]
    angle = pos / torch.pow(torch.tensor(POS_BASE, dtype=torch.float64), 2 * torch.div(j, 2, rounding_mode="floor") / dim)
    table = torch.where(j.long() % 2 == 0, torch.sin(angle), torch.cos(angle))
    return table.float()


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads:
            raise BadInput(f"VideoMAE width {dim} is not a multiple of {num_heads} heads")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        bias = torch.cat([self.q_bias, torch.zeros_like(self.v_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        x = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="none"))


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, hidden: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = Mlp(dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv3d(3, dim, kernel_size=(TUBELET, PATCH, PATCH), stride=(TUBELET, PATCH, PATCH))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, t·h·w, dim]


class VideoMAEv2(nn.Module):
    """VideoMAE-v2 ViT returning ``fc_norm(mean token)``; ``depth``/``dim`` shrink it for tests only."""

    def __init__(self, dim: int = EMBED_DIM, depth: int = DEPTH, num_heads: int = NUM_HEADS, mlp_hidden: int = MLP_HIDDEN, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.dim = dim
        self.patch_embed = PatchEmbed(dim)
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_hidden) for _ in range(depth))
        self.fc_norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.head = nn.Linear(dim, num_classes)
        self.train(False)

    def train(self, mode: bool = True):
        return super().train(False)  # a frozen feature extractor

    @property
    def feature_dim(self) -> int:
        return self.dim

    def position_table(self, t: int, h: int, w: int, device, dtype) -> torch.Tensor:
        """``[t·h·w, dim]`` for a token grid of t tubelets × h × w patches."""
        full_t, full_hw = FRAMES // TUBELET, IMAGE_SIZE // PATCH
        if (h, w) != (full_hw, full_hw):
            return sinusoid_table(t * h * w, self.dim).to(device=device, dtype=dtype)
        table = sinusoid_table(full_t * h * w, self.dim)
        if t != full_t:
            grid = table.T.reshape(1, self.dim, full_t, h, w)
            # VideoMAE-v2's time interpolation (+0.1 guards the floor of the output length).
            grid = F.interpolate(grid, scale_factor=((t + 0.1) / full_t, 1, 1), mode="trilinear")
            table = grid.reshape(self.dim, -1).T
        return table.to(device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != 3:
            raise BadInput(f"VideoMAE input must be [B, 3, T, H, W], got {tuple(x.shape)}")
        if x.shape[2] < TUBELET or x.shape[3] < PATCH or x.shape[4] < PATCH:
            raise BadInput(f"VideoMAE needs at least {TUBELET} frames and {PATCH}x{PATCH} pixels, got {tuple(x.shape[2:])}")
        tokens = self.patch_embed(x)
        t, h, w = x.shape[2] // TUBELET, x.shape[3] // PATCH, x.shape[4] // PATCH
        tokens = tokens + self.position_table(t, h, w, tokens.device, tokens.dtype)[None]
        for blk in self.blocks:
            tokens = blk(tokens)
        return self.fc_norm(tokens.mean(1))


def architecture_of(state: dict, source) -> dict:
    """Width, depth, MLP width and classes read from a state dict's shapes (heads stay 16)."""
    try:
        dim = state["patch_embed.proj.weight"].shape[0]
        hidden = state["blocks.0.mlp.fc1.weight"].shape[0]
        classes = state["head.weight"].shape[0]
    except KeyError as err:
        raise BadInput(f"{source}: not a VideoMAE-v2 state dict (no {err.args[0]})") from None
    depth = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
    return {"dim": dim, "depth": depth, "mlp_hidden": hidden, "num_classes": classes}


def unwrap(obj, source) -> dict:
    """The state dict inside the file: bare, or under ``model`` / ``module`` (as cd-fvd unwraps it)."""
    if isinstance(obj, dict):
        for key in ("model", "module"):
            if isinstance(obj.get(key), dict):
                return obj[key]
        return obj
    raise BadInput(f"{source}: expected a VideoMAE-v2 state dict, found {type(obj).__name__}")


def load_videomae(weight: str = "videomae_v2_g_ssv2", device: torch.device | str = "cpu", dtype: torch.dtype | None = None) -> VideoMAEv2:
    """The network with ``weight`` from the registry, strictly loaded; fp32 unless ``dtype`` (bf16/fp16 on GPU)."""
    path = weights.path(weight)
    state = unwrap(read_state_dict(path, "VideoMAE-v2"), path)
    with torch.device("meta"):
        model = VideoMAEv2(**architecture_of(state, path))
    model = model.to_empty(device="cpu")
    load_strict(model, state, path, "VideoMAE-v2")  # copy_ casts the fp16 file into the fp32 parameters
    del state
    dtype = dtype or torch.float32
    if dtype != torch.float32 and torch.device(device).type == "cpu":
        raise BadInput(f"VideoMAE-v2 runs in float32 on the CPU (asked for {dtype})")
    return model.eval().to(device=device, dtype=dtype)
