"""Helpers shared by the backbone wrappers."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from vhq import weights
from vhq.errors import BadInput
from vhq.weights.convert import load_plain


def strip_prefix(state: dict, prefix: str = "module.") -> dict:
    """Drop a DataParallel ``module.`` prefix (all keys or none)."""
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


def unwrap_state_dict(obj, path: Path, what: str) -> dict:
    """The state dict inside a loaded file (a bare one or a training checkpoint's ``state_dict``)."""
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise BadInput(f"{path}: expected a {what} state dict, found {type(obj).__name__}")
    return obj


def read_state_dict(path: Path, what: str) -> dict:
    """A weight file's state dict, read with ``weights_only=True`` (TorchScript archives refused)."""
    return unwrap_state_dict(load_plain(path), path, what)


def load_strict(module: torch.nn.Module, state: dict, source: Path | str, what: str) -> None:
    """Load every key of ``module`` from ``state`` or fail with one line naming the file and what is off.

    Absent ``num_batches_tracked`` counters (old checkpoints) are tolerated; any other missing,
    unexpected or mis-shaped tensor is an error, so no metric ever runs on random layers.
    """
    state = strip_prefix(state)
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})" for k in state
             if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        if wrong:
            parts.append(f"{len(wrong)} shape mismatches (e.g. {wrong[0]})")
        raise BadInput(f"{source}: does not fit the {what} architecture: " + "; ".join(parts))
    module.load_state_dict({k: state.get(k, expected[k]) for k in expected}, strict=True)


def combine_provenance(names: list[str]) -> dict:
    """One provenance record for a metric that uses several weights (joined with '+')."""
    recs = [weights.provenance(n) for n in names]
    return {
        "weight": "+".join(r["weight"] for r in recs),
        "weight_sha256": "+".join(r["weight_sha256"] for r in recs),
        "weight_verified": all(r["weight_verified"] for r in recs),
        "weight_state": "+".join(r["weight_state"] for r in recs),
    }


@contextlib.contextmanager
def hub_dir_with(files: dict[str, Path], root: Path) -> Iterator[Path]:
    """Point ``torch.hub``'s directory at ``root`` holding ``checkpoints/<name>`` links, then restore it.

    face-alignment has no path argument for its FAN: it loads ``<hub dir>/checkpoints/<basename
    of its URL>`` and downloads only when that file is absent. Linking the registry's verified
    file there makes it load the cached weight and never touch the network.
    """
    ckpt = root / "checkpoints"
    ckpt.mkdir(parents=True, exist_ok=True)
    for name, target in files.items():
        link = ckpt / name
        if link.is_symlink() or link.exists():
            if link.is_symlink() and Path(link.readlink()) == target.resolve():
                continue
            link.unlink()
        try:
            link.symlink_to(target.resolve())
        except OSError:
            import shutil

            shutil.copyfile(target, link)
    old = getattr(torch.hub, "_hub_dir", None)
    torch.hub.set_dir(str(root))
    try:
        yield root
    finally:
        torch.hub._hub_dir = old  # set_dir cannot restore "unset"


class Landmarker:
    """A face detector + 68-point landmark model; subclasses define ``detect`` and ``landmarks``."""

    def detect(self, frame: np.ndarray):  # pragma: no cover - interface
        raise NotImplementedError

    def landmarks(self, frame: np.ndarray, box) -> np.ndarray | None:  # pragma: no cover - interface
        raise NotImplementedError

    def analyse(self, frames: torch.Tensor) -> list:
        """Per frame of a uint8 ``[T,H,W,3]`` batch: ``[68,2]`` landmarks or None (no face)."""
        out = []
        for img in frames.cpu().numpy():
            box = self.detect(img)
            out.append(None if box is None else self.landmarks(img, box))
        return out
