"""LIA-X (wyhsirius/LIA-X, 2025): a 512-px LIA successor with a 40-direction motion dictionary.

Inference only: ``LiaXGenerator`` (key for key the released ``lia-x.pt``), ``load_generator``,
the named directions and upstream's face-crop rule. Loaded on first use, so the torch-free parts
(``lia.x.defaults``, ``lia.x.directions``, ``lia.x.crop``) do not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lia.x.checkpoint import load_generator
    from lia.x.generator import LiaXGenerator

__all__ = ["LiaXGenerator", "load_generator"]

_HOMES = {"LiaXGenerator": "lia.x.generator", "load_generator": "lia.x.checkpoint"}


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'lia.x' has no attribute {name!r}")
