"""Read LIA-X weight files: the released ``lia-x.pt`` is a bare generator state_dict (``enc.*``,
``dec.*``), read with ``torch.load(weights_only=True)`` and loaded strictly.

The config (size, width, latent and motion sizes) is read from the tensor shapes, so a small model
of the same classes saved the same way loads the same way. The model is built on the ``meta``
device and the file's tensors are assigned to it, so a 3.6 GB file needs its own size in memory,
not twice that.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from lia.checkpoint import read_file
from lia.x.config import BASE_WIDTHS, LiaXConfig
from lia.x.generator import LiaXGenerator, build_on_meta
from vhq.errors import BadInput, OutputError
from vhq.io.files import atomic_path

DIRECTION = "dec.direction.weight"
FIRST_CONV = "enc.enc_2r.block1.0.weight"


def infer_config(state: Mapping[str, torch.Tensor], path: str | os.PathLike = "checkpoint") -> LiaXConfig:
    """Config from the shapes: levels from the ``flow*`` layers, width from ``block1``, sizes from ``Q``."""
    if any(k.startswith("dec.to_flows.") for k in state):
        raise BadInput(f"{path}: this is a LIA checkpoint, not LIA-X", "use --model lia for it")
    direction, first = state.get(DIRECTION), state.get(FIRST_CONV)
    if direction is None or first is None or direction.dim() != 2 or first.dim() != 4:
        raise BadInput(f"{path}: not a LIA-X generator state_dict (no {DIRECTION} / {FIRST_CONV})")
    levels = {m.group(1) for k in state if (m := re.match(r"dec\.flow(_512|\d+)\.bias$", k))}
    try:
        return LiaXConfig(size=2 ** (len(levels) + 2), scale=first.shape[0] / BASE_WIDTHS[0],
                          style_dim=int(direction.shape[0]), motion_dim=int(direction.shape[1]))
    except ValueError as e:
        raise BadInput(f"{path}: not a LIA-X layout: {e}") from None


def load_generator(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> LiaXGenerator:
    """The generator of a LIA-X state_dict file, loaded strictly, in eval mode."""
    p = Path(path)
    state = read_file(p, map_location)
    if isinstance(state, Mapping) and isinstance(state.get("gen"), Mapping):
        state = state["gen"]  # a training-style wrapper around the same state_dict
    if not isinstance(state, Mapping) or not state or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise BadInput(f"{p}: not a LIA-X checkpoint (expected a generator state_dict of tensors)")
    config = infer_config(state, p)
    generator = build_on_meta(**config.as_dict())
    try:
        generator.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as e:
        detail = " ".join(str(e).split())
        raise BadInput(f"{p}: does not match the LIA-X layout of {config.as_dict()}: {detail[:400]}") from None
    return generator.eval()


def save_state_dict(path: str | os.PathLike, generator: LiaXGenerator) -> Path:
    """Write ``generator`` as upstream stores it (a bare state_dict), atomically."""
    state = {k: v.detach().cpu() for k, v in generator.state_dict().items()}
    try:
        with atomic_path(path) as tmp:
            torch.save(state, tmp)
    except RuntimeError as e:
        raise OutputError(f"{path}: cannot write the weights ({str(e).strip().splitlines()[-1][:200]})", "free some space and re-run") from None
    return Path(path)
