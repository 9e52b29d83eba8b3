"""Helpers shared by the backbone wrappers."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from vhq import weights


def load_state_dict(path: Path, what: str) -> dict:
    """A state dict saved with ``torch.save`` (tensors only: ``weights_only=True``)."""
    from vhq.errors import BadInput

    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad file
        raise BadInput(f"{path}: not a loadable {what} state dict ({e.__class__.__name__}: {e})") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise BadInput(f"{path}: expected a {what} state dict, got {type(sd).__name__}")
    return sd


def strict_load(module: torch.nn.Module, sd: dict, path: Path, what: str) -> None:
    """``load_state_dict(strict=True)`` with a one-line error naming the file."""
    from vhq.errors import BadInput

    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise BadInput(f"{path}: does not fit the {what} architecture ({' '.join(first[:2])[:300]})") from None


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
