"""Media helpers for the eval tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def face_frames(n: int, size: int = 96, seed: int = 0, face_scale: float = 0.7) -> np.ndarray:
    from vhq.synthetic import SyntheticVideo

    spec = SyntheticVideo(width=size, height=size, frames=n, fps=25.0, face_scale=face_scale, seed=seed)
    return np.stack([spec.frame(t) for t in range(n)])


def write_pngs(folder: Path, frames) -> Path:
    from vhq import video

    return video.write_frames(folder, torch.as_tensor(np.asarray(frames)))
