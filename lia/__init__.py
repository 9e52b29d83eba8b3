"""LIA (Latent Image Animator, ICLR 2022): a checkpoint-compatible PyTorch re-implementation."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lia.checkpoint import load_checkpoint, save_checkpoint
    from lia.discriminator import Discriminator
    from lia.generator import Generator

__all__ = ["Generator", "Discriminator", "load_checkpoint", "save_checkpoint"]

# Loaded on first use, so that importing a torch-free part of lia (the command line's defaults)
# does not import torch.
_HOMES = {"Generator": "lia.generator", "Discriminator": "lia.discriminator", "load_checkpoint": "lia.checkpoint", "save_checkpoint": "lia.checkpoint"}


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'lia' has no attribute {name!r}")
