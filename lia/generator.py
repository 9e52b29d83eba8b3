"""The LIA generator: encoder + flow decoder, with the latent navigation of the paper.

Latent of the decoded image (z = appearance latent, alpha = motion magnitudes, Q = directions):

* absolute motion (training, evaluation): ``z(s) + Q alpha(d)``
* relative motion (official vox demo): ``z(s) + Q (alpha(d) - alpha(start) + alpha(s))``, where
  ``start`` is the first driving frame
* reference image ``x_r``: ``z(s)`` alone

Variants of the TPAMI paper (all off by default, i.e. the official model):

* ``dictionary``: ``orthogonal`` (official), ``random`` (a learned basis that is not orthogonalised,
  Table VIII) or ``none`` (no dictionary: the encoder's motion head outputs the latent displacement
  directly, Table VI "w/o D_m"; ``motion_dim`` is then ``style_dim``);
* ``source_warp``: the source image becomes the last feature map, warped and in-painted by one
  extra module at full resolution (the improved high-resolution model, Table V).

Images are ``[B, 3, H, W]`` in [-1, 1]. Submodule names (``enc``, ``dec``) match the official
checkpoints.
"""

from __future__ import annotations

import torch
from torch import nn

from lia.decoder import Synthesis
from lia.encoder import Encoder, log2_size


def relative_motion(alpha_driving: torch.Tensor, alpha_start: torch.Tensor, alpha_source: torch.Tensor) -> torch.Tensor:
    """Motion of the driving frame relative to the start frame, applied on top of the source's pose."""
    return alpha_driving - alpha_start + alpha_source


# Config entries of the paper's variants, with the value that means "the official model". A config
# without them (every checkpoint written before they existed) is the official model.
VARIANT_DEFAULTS = {"dictionary": "orthogonal", "source_warp": False}


def normalized_config(config: dict) -> dict:
    """A stored generator config with plain types and every variant entry (official values when absent)."""
    out = {k: int(config[k]) for k in ("size", "style_dim", "motion_dim")}
    out.update({k: config.get(k, v) for k, v in VARIANT_DEFAULTS.items()})
    return out


class MotionAnimator(nn.Module):
    """What every generator of the LIA family shares: ``enc`` (appearance and motion of an image),
    ``dec`` (the latent ``z + Q motion`` and its rendering) at ``size``; subclasses encode appearance."""

    size: int

    def encode_motion(self, x: torch.Tensor) -> torch.Tensor:
        """Motion magnitudes ``alpha`` ``[B, motion_dim]``."""
        self._check_image(x)
        return self.enc.motion(x)

    def motion_from_latent(self, z: torch.Tensor) -> torch.Tensor:
        """``alpha`` of the image whose appearance latent is ``z`` (saves a second encoder pass)."""
        return self.enc.motion_from_latent(z)

    def decode(self, z: torch.Tensor, feats: list[torch.Tensor], motion: torch.Tensor | None = None) -> torch.Tensor:
        """Render ``z + Q motion``; a single source (batch 1) is broadcast over a batch of motions."""
        w = self.dec.latent(z, motion)
        b = w.shape[0]
        if any(f.shape[0] != b for f in feats):
            feats = [f.expand(b, -1, -1, -1) for f in feats]
        return self.dec.render(w, feats)

    def forward(self, source: torch.Tensor, driving: torch.Tensor, start: torch.Tensor | None = None) -> torch.Tensor:
        """Animate ``source`` with the motion of ``driving``.

        Absolute motion when ``start`` is None; otherwise relative to ``start`` (an image, normally
        the first driving frame), as in the official demo.
        """
        z, feats = self.encode_appearance(source)
        motion = self.encode_motion(driving)
        if start is not None:
            motion = relative_motion(motion, self.encode_motion(start), self.motion_from_latent(z))
        return self.decode(z, feats, motion)

    def _check_image(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] != self.size or x.shape[3] != self.size:
            raise ValueError(f"expected images [B, 3, {self.size}, {self.size}], got {tuple(x.shape)}")


class Generator(MotionAnimator):
    def __init__(self, size: int = 256, style_dim: int = 512, motion_dim: int = 20, dictionary: str = "orthogonal", source_warp: bool = False):
        super().__init__()
        log2_size(size)
        if dictionary == "none":
            motion_dim = style_dim
        self.size = size
        self.style_dim = style_dim
        self.motion_dim = motion_dim
        self.dictionary = dictionary
        self.source_warp = bool(source_warp)
        self.enc = Encoder(size, style_dim, motion_dim)
        self.dec = Synthesis(size, style_dim, motion_dim, dictionary=dictionary, source_warp=self.source_warp)

    @property
    def config(self) -> dict:
        """Constructor arguments as a plain dict (stored in checkpoints); the variants only when not official."""
        cfg = {"size": self.size, "style_dim": self.style_dim, "motion_dim": self.motion_dim}
        cfg.update({k: getattr(self, k) for k, official in VARIANT_DEFAULTS.items() if getattr(self, k) != official})
        return cfg

    @property
    def full_config(self) -> dict:
        """:attr:`config` with every variant spelled out (for comparing configs)."""
        return normalized_config(self.config)

    @property
    def is_official(self) -> bool:
        """The official architecture (no variant of the paper): the layout of the released files."""
        return all(getattr(self, k) == v for k, v in VARIANT_DEFAULTS.items())

    @classmethod
    def from_config(cls, config: dict) -> "Generator":
        source_warp = config.get("source_warp", False)
        if not isinstance(source_warp, bool):
            raise TypeError(f"source_warp must be true or false, got {source_warp!r}")
        return cls(size=int(config["size"]), style_dim=int(config["style_dim"]), motion_dim=int(config["motion_dim"]),
                   dictionary=str(config.get("dictionary", "orthogonal")), source_warp=source_warp)

    def extra_repr(self) -> str:
        variants = "".join(f", {k}={getattr(self, k)}" for k, v in VARIANT_DEFAULTS.items() if getattr(self, k) != v)
        return f"size={self.size}, style_dim={self.style_dim}, motion_dim={self.motion_dim}{variants}"

    # -- encoding ---------------------------------------------------------------------------
    def encode_appearance(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Appearance latent ``z`` ``[B, style_dim]`` and skip features (8x8 ... size, then the image with ``source_warp``)."""
        self._check_image(x)
        z, feats = self.enc.appearance(x)
        return z, (feats + [x] if self.source_warp else feats)

    def directions(self) -> torch.Tensor:
        """The motion basis ``Q`` ``[style_dim, motion_dim]`` (orthonormal unless ``dictionary="random"``)."""
        if self.dec.direction is None:
            raise ValueError("this LIA model has no motion dictionary (dictionary='none')")
        return self.dec.direction.basis()

    def reference(self, x: torch.Tensor) -> torch.Tensor:
        """The reference image ``x_r``: the source decoded from ``z`` alone, with no motion."""
        z, feats = self.encode_appearance(x)
        return self.decode(z, feats, None)
