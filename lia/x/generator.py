"""The LIA-X generator (wyhsirius/LIA-X, 2025): encoder + flow decoder, key for key the released
``lia-x.pt`` at the default config.

It answers the same calls as :class:`lia.generator.Generator` (``encode_appearance``,
``encode_motion``, ``motion_from_latent``, ``decode``, ``directions``), so :mod:`lia.animate`
(animation with the source encoded once, reference images, direction walks) runs it unchanged.

Latent of the decoded image (z = appearance latent, alpha = motion magnitudes, Q = directions):
absolute motion ``z(s) + Q alpha(d)``; relative motion (upstream ``animate``)
``z(s) + Q (alpha(d) - alpha(start) + alpha(s))``. Upstream sums ``Q alpha(d) - Q alpha(start) + Q
alpha(s)``: the same linear map. Images are ``[B, 3, H, W]`` in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from lia.generator import MotionAnimator
from lia.x.config import LiaXConfig
from lia.x.decoder import Decoder
from lia.x.encoder import Encoder


class LiaXGenerator(MotionAnimator):
    def __init__(self, size: int = 512, scale: float = 2, style_dim: int = 1024, motion_dim: int = 40):
        super().__init__()
        cfg = LiaXConfig(size, scale, style_dim, motion_dim)
        self.cfg = cfg
        self.size, self.style_dim, self.motion_dim = cfg.size, cfg.style_dim, cfg.motion_dim
        self.enc = Encoder(cfg)
        self.dec = Decoder(cfg)

    @property
    def config(self) -> dict:
        return self.cfg.as_dict()

    @classmethod
    def from_config(cls, config: Mapping) -> LiaXGenerator:
        return cls(size=int(config["size"]), scale=config["scale"], style_dim=int(config["style_dim"]), motion_dim=int(config["motion_dim"]))

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.items())

    def encode_appearance(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Appearance latent ``z`` ``[B, style_dim]`` and skip features (8x8 ... size)."""
        self._check_image(x)
        return self.enc.appearance(x)

    def directions(self) -> torch.Tensor:
        """The orthonormal motion dictionary ``Q`` ``[style_dim, motion_dim]``."""
        return self.dec.direction.basis()


def build_on_meta(**config) -> LiaXGenerator:
    """The generator with no storage behind its tensors (shapes only; any size is instant)."""
    with torch.device("meta"):
        return LiaXGenerator(**config)
