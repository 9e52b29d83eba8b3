"""A 1-D temporal U-Net over motion-code sequences ``[B, L, D]`` (the ε-network of LMDM).

LEO names improved-diffusion's ``UNetModel`` (Nichol & Dhariwal) without its settings; this is that
layout with ``dims=1`` [vhq's reading]: residual blocks with GroupNorm + SiLU and a scale-shift
timestep embedding, self-attention at the coarser levels, strided-conv down / nearest-up sampling,
skip connections, zero-initialised last layers (the network starts as ε̂ = 0).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    motion_dim: int = 20                      # LIA's motion codes (paper: 64×20 inputs)
    channels: int = 128                       # [vhq] base width
    mult: tuple[int, ...] = (1, 2, 4)         # [vhq] width per level (sequence halves per level)
    res_blocks: int = 2                       # [vhq] residual blocks per level
    attention_levels: tuple[int, ...] = (1, 2)  # [vhq] levels with self-attention (T/2, T/4)
    heads: int = 4
    groups: int = 32                          # GroupNorm groups
    dropout: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        return {**d, "mult": list(self.mult), "attention_levels": list(self.attention_levels)}

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        return cls(**{**d, "mult": tuple(d["mult"]), "attention_levels": tuple(d["attention_levels"])})


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64, device=t.device) / half)
    args = t.to(torch.float64)[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


def _zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv1d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, 2 * cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv1d(cout, cout, 3, padding=1))
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[..., None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    def __init__(self, channels: int, heads: int, groups: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj = _zero(nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        b, c, n = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, n).unbind(1)
        h = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        return x + self.proj(h.transpose(-1, -2).reshape(b, c, n))


class UNet1D(nn.Module):
    """ε̂ = net(x, t): ``x`` ``[B, L, D]`` with ``L`` divisible by ``2^(levels−1)``, ``t`` ``[B]``."""

    def __init__(self, cfg: UNetConfig = UNetConfig()):
        super().__init__()
        self.cfg = cfg
        ch, g = cfg.channels, cfg.groups
        emb = 4 * ch
        self.time = nn.Sequential(nn.Linear(ch, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.inp = nn.Conv1d(cfg.motion_dim, ch, 3, padding=1)
        self.down = nn.ModuleList()
        skips, cur = [ch], ch
        for level, m in enumerate(cfg.mult):
            for _ in range(cfg.res_blocks):
                blocks = [ResBlock(cur, ch * m, emb, g, cfg.dropout)]
                cur = ch * m
                if level in cfg.attention_levels:
                    blocks.append(Attention(cur, cfg.heads, g))
                self.down.append(nn.ModuleList(blocks))
                skips.append(cur)
            if level < len(cfg.mult) - 1:
                self.down.append(nn.ModuleList([nn.Conv1d(cur, cur, 3, stride=2, padding=1)]))
                skips.append(cur)
        self.mid = nn.ModuleList([ResBlock(cur, cur, emb, g, cfg.dropout), Attention(cur, cfg.heads, g), ResBlock(cur, cur, emb, g, cfg.dropout)])
        self.up = nn.ModuleList()
        for level, m in reversed(list(enumerate(cfg.mult))):
            for i in range(cfg.res_blocks + 1):
                blocks = [ResBlock(cur + skips.pop(), ch * m, emb, g, cfg.dropout)]
                cur = ch * m
                if level in cfg.attention_levels:
                    blocks.append(Attention(cur, cfg.heads, g))
                if level > 0 and i == cfg.res_blocks:
                    blocks.append(nn.Upsample(scale_factor=2, mode="nearest"))
                    blocks.append(nn.Conv1d(cur, cur, 3, padding=1))
                self.up.append(nn.ModuleList(blocks))
        self.out = nn.Sequential(nn.GroupNorm(g, cur), nn.SiLU(), _zero(nn.Conv1d(cur, cfg.motion_dim, 3, padding=1)))

    @property
    def factor(self) -> int:
        return 2 ** (len(self.cfg.mult) - 1)

    @staticmethod
    def _run_blocks(blocks: nn.ModuleList, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        for block in blocks:
            h = block(h, emb) if isinstance(block, (ResBlock, Attention)) else block(h)
        return h

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.cfg.motion_dim or x.shape[1] % self.factor:
            raise ValueError(f"expected [B, L, {self.cfg.motion_dim}] with L divisible by {self.factor}, got {tuple(x.shape)}")
        emb = self.time(timestep_embedding(t, self.cfg.channels).to(x.dtype))
        h = self.inp(x.transpose(1, 2))
        hs = [h]
        for blocks in self.down:
            h = self._run_blocks(blocks, h, emb)
            hs.append(h)
        h = self._run_blocks(self.mid, h, emb)
        for blocks in self.up:
            h = self._run_blocks(blocks, torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h).transpose(1, 2)
