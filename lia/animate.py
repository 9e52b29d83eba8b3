"""Inference with a LIA generator: animate a source image, render its reference image, walk directions.

The source is encoded once (appearance latent, skip features and its own motion magnitudes) and
reused for every batch of driving frames, where the official demo re-encodes it for every frame.

Pixel conventions:

* input frames are uint8 ``[B, H, W, 3]``; they are mapped to [-1, 1] as ``(x/255 - 0.5) * 2`` and,
  if their size differs from the model's, resized with bicubic interpolation **with antialiasing**
  (``F.interpolate(mode="bicubic", antialias=True, align_corners=False)``, close to PIL's default
  ``Image.resize`` filter that the official demo applies to the source). Non-square frames are
  stretched to a square, as in the official demo: crop faces first.
* outputs are clamped to [-1, 1] and mapped to uint8 with a fixed affine map and rounding. The
  official demo instead min-max normalises over the whole video, which changes the colours
  from one clip to another; a fixed map keeps frames comparable and streamable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from lia.defaults import BATCH, MODE, WALK_RANGE, WALK_STEPS
from lia.generator import Generator, relative_motion

MODES = ("relative", "absolute")
RESIZE_MODE = "bicubic"


def _as_tensor(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))


def frames_to_input(frames, size: int) -> torch.Tensor:
    """uint8 ``[B, H, W, 3]`` (or ``[H, W, 3]``) -> float32 ``[B, 3, size, size]`` in [-1, 1]."""
    x = _as_tensor(frames)
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[-1] != 3 or x.dtype != torch.uint8:
        raise ValueError(f"expected uint8 frames [B, H, W, 3], got {x.dtype} {tuple(x.shape)}")
    x = (x.permute(0, 3, 1, 2).float() / 255.0 - 0.5) * 2.0
    return resize_images(x, size)


def resize_images(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``[B, 3, H, W]`` images in [-1, 1] to ``size`` x ``size`` (bicubic, antialiased, clamped)."""
    if x.shape[-2:] == (size, size):
        return x
    x = F.interpolate(x, size=(size, size), mode=RESIZE_MODE, antialias=True, align_corners=False)
    return x.clamp(-1.0, 1.0)


def images_to_frames(images: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` model output -> uint8 ``[B, H, W, 3]``: clamp to [-1, 1], fixed map, rounding."""
    x = (images.detach().clamp(-1.0, 1.0) + 1.0) * 127.5
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).cpu().contiguous()


def source_to_input(source, size: int) -> torch.Tensor:
    """A source image as ``[1, 3, size, size]`` in [-1, 1].

    Accepts a uint8 ``[H, W, 3]`` image or a float ``[3, H, W]`` (or ``[1, 3, H, W]``) tensor in [-1, 1].
    """
    x = _as_tensor(source)
    if x.dtype == torch.uint8:
        if x.dim() != 3 or x.shape[-1] != 3:
            raise ValueError(f"expected a uint8 source image [H, W, 3], got {tuple(x.shape)}")
        return frames_to_input(x, size)
    if not x.is_floating_point():
        raise ValueError(f"expected a uint8 [H, W, 3] or float [3, H, W] source image, got {x.dtype}")
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[:2] != (1, 3):
        raise ValueError(f"expected a float source image [3, H, W], got {tuple(x.shape)}")
    return resize_images(x.float(), size)


def _placement(generator: Generator) -> tuple[torch.device, torch.dtype]:
    p = next(generator.parameters())
    return p.device, p.dtype


@dataclass
class EncodedSource:
    """What the decoder needs from the source, computed once: ``z``, skip features, ``alpha(source)``."""

    z: torch.Tensor
    feats: list[torch.Tensor]
    alpha: torch.Tensor


@torch.inference_mode()
def encode_source(generator: Generator, source) -> EncodedSource:
    device, dtype = _placement(generator)
    x = source_to_input(source, generator.size).to(device, dtype)
    z, feats = generator.encode_appearance(x)
    return EncodedSource(z, feats, generator.motion_from_latent(z))


def rebatch(batches: Iterable[torch.Tensor], size: int) -> Iterator[torch.Tensor]:
    """Regroup a stream of frame batches into batches of exactly ``size`` frames (the last may be short)."""
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    pending: list[torch.Tensor] = []
    count = 0
    for b in batches:
        b = _as_tensor(b)
        while b.shape[0]:
            take = min(size - count, b.shape[0])
            pending.append(b[:take])
            b = b[take:]
            count += take
            if count == size:
                yield torch.cat(pending)
                pending, count = [], 0
    if pending:
        yield torch.cat(pending)


def animate(
    generator: Generator,
    source,
    driving_batches: Iterable,
    mode: str = MODE,
    batch: int = BATCH,
) -> Iterator[torch.Tensor]:
    """Yield uint8 ``[B, size, size, 3]`` frames of ``source`` animated by the driving frames.

    ``driving_batches`` is any iterable of uint8 ``[B, H, W, 3]`` batches (e.g. ``vhq.io.video.iter_frames``);
    it is consumed lazily and regrouped into batches of ``batch`` frames, so memory does not grow
    with the video's length. ``mode="relative"`` transfers the motion relative to the first driving
    frame onto the source's own pose (official vox demo); ``"absolute"`` uses the driving frames'
    motion as is (training and evaluation).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    device, dtype = _placement(generator)
    src = encode_source(generator, source)
    alpha_start = None
    for chunk in rebatch(driving_batches, batch):
        with torch.inference_mode():
            x = frames_to_input(chunk, generator.size).to(device, dtype)
            motion = generator.encode_motion(x)
            if mode == "relative":
                if alpha_start is None:
                    alpha_start = motion[:1]
                motion = relative_motion(motion, alpha_start, src.alpha)
            out = generator.decode(src.z, src.feats, motion)
        yield images_to_frames(out)


@torch.inference_mode()
def reference(generator: Generator, source) -> torch.Tensor:
    """The reference image ``x_r`` of ``source`` (decoded from ``z`` alone) as uint8 ``[size, size, 3]``."""
    src = encode_source(generator, source)
    return images_to_frames(generator.decode(src.z, src.feats, None))[0]


def walk_values(limit: float = WALK_RANGE, steps: int = WALK_STEPS) -> torch.Tensor:
    """``steps`` evenly spaced offsets in ``[-limit, limit]``.

    (The official ``linear_manipulation.py`` uses ``-3 + 6 j / 16`` for ``j = 0..15``, which stops
    short of +3; this grid is symmetric.)
    """
    if steps < 2:
        raise ValueError(f"a walk needs at least 2 steps, got {steps}")
    return torch.linspace(-limit, limit, steps)


@torch.inference_mode()
def walk_direction(generator: Generator, source, index: int, values: Sequence[float] | torch.Tensor, batch: int = BATCH) -> torch.Tensor:
    """Frames of ``source`` moved along motion direction ``index`` (paper Fig. 10/11).

    Frame j decodes ``z + Q (alpha(source) + values[j] e_index)``, as the official
    ``linear_manipulation.py``. Returns uint8 ``[len(values), size, size, 3]``.
    """
    if not 0 <= index < generator.motion_dim:
        raise ValueError(f"direction index must be in [0, {generator.motion_dim}), got {index}")
    device, dtype = _placement(generator)
    src = encode_source(generator, source)
    values = torch.as_tensor(values, dtype=dtype, device=device).reshape(-1)
    frames = []
    for start in range(0, values.shape[0], batch):
        v = values[start : start + batch]
        motion = src.alpha.repeat(v.shape[0], 1)
        motion[:, index] += v
        frames.append(images_to_frames(generator.decode(src.z, src.feats, motion)))
    return torch.cat(frames)


def side_by_side(*panels: torch.Tensor) -> torch.Tensor:
    """Concatenate uint8 ``[B, H, W, 3]`` batches along the width; single images (``[H, W, 3]`` or
    ``[1, H, W, 3]``) are repeated over the batch."""
    panels = tuple(p[None] if p.dim() == 3 else p for p in panels)
    b = max(p.shape[0] for p in panels)
    return torch.cat([p.expand(b, -1, -1, -1) for p in panels], dim=2)
