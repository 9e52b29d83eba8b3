"""The shape of a LIA-X generator: output size, width multiplier, latent and motion sizes.

The released ``lia-x.pt`` is ``LiaXConfig(size=512, scale=2, style_dim=1024, motion_dim=40)``
(upstream ``Generator(style_dim=512, motion_dim=40, scale=2)``, whose style width is 512 x scale).

Upstream hard-codes seven decoder levels (8 ... 512 px). Here the level count follows ``size``
(levels at 8, 16, ..., size) so a small model of the same classes runs on a CPU; the widths follow
the released model's rule, counted from the output resolution down: ``64s`` channels at ``size``,
``128s`` at size/2, ``256s`` at size/4, ``512s`` at size/8 and below (``s`` = ``scale``). At
size 512 that is exactly the released layout. Torch-free.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

BASE_WIDTHS = (64, 128, 256, 512)  # at size, size/2, size/4, size/8 and below, times scale
FIRST_LEVEL = 8  # the coarsest decoder level; 4x4 is the constant input
GROUPS = 32  # every width must be a multiple of the GroupNorm group count
RELEASED = {"size": 512, "scale": 2, "style_dim": 1024, "motion_dim": 40}


@dataclass(frozen=True)
class LiaXConfig:
    size: int = RELEASED["size"]
    scale: float = RELEASED["scale"]
    style_dim: int = RELEASED["style_dim"]
    motion_dim: int = RELEASED["motion_dim"]

    def __post_init__(self):
        log = math.log2(self.size) if self.size > 0 else 0
        if self.size < 16 or self.size > 1024 or log != int(log):
            raise ValueError(f"LIA-X size must be a power of two from 16 to 1024, got {self.size}")
        for w in BASE_WIDTHS:
            c = w * self.scale
            if c != int(c) or int(c) % GROUPS:
                raise ValueError(f"scale {self.scale} gives {c} channels; every width must be a multiple of {GROUPS} (scale >= 0.5, in steps of 0.5)")
        if not 0 < self.motion_dim <= self.style_dim:
            raise ValueError(f"motion_dim must be in [1, style_dim={self.style_dim}], got {self.motion_dim}")

    @property
    def levels(self) -> int:
        """Decoder levels: 8, 16, ..., size."""
        return int(math.log2(self.size)) - 2

    def width(self, resolution: int) -> int:
        """Channels of the feature maps at ``resolution`` (encoder and decoder alike)."""
        steps = int(math.log2(self.size // resolution)) if resolution <= self.size else 0
        return int(BASE_WIDTHS[min(steps, len(BASE_WIDTHS) - 1)] * self.scale)

    def as_dict(self) -> dict:
        d = asdict(self)
        if float(d["scale"]).is_integer():
            d["scale"] = int(d["scale"])
        return d


def level_name(index: int) -> str:
    """Key infix of decoder level ``index`` (0 = 8x8): upstream names them ``_512``, ``2`` ... ``7``."""
    return "_512" if index == 0 else str(index + 1)
