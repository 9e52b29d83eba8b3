"""Helpers for the LIA trainer tests: synthetic clips, a random-init VGG19 file, subprocess runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def write_clips(folder: Path, count: int = 2, frames: int = 10, side: int = 160, fmt: str = "mp4") -> list[Path]:
    """``count`` short synthetic talking-head clips (``side``² px, frame index in the border colour)."""
    from vhq import synthetic, video

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        spec = synthetic.SyntheticVideo(width=side, height=side, frames=frames, fps=25.0, face_scale=0.7, seed=i)
        if fmt == "mp4":
            out.append(synthetic.write_synthetic(folder / f"clip{i:02d}.mp4", spec, gop=5))
        else:
            out.append(video.write_frames(folder / f"clip{i:02d}", torch.from_numpy(next(spec.iter_batches(frames)))))
    return out


def write_random_vgg19(path: Path) -> Path:
    """torchvision's VGG19 state dict (every key, classifier included) with random-init weights."""
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.vgg19(weights=None).state_dict(), path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(cache: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "VHQ_CACHE": str(cache), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
        "VHQ_QUIET": "1",
    })
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    env.update(extra)
    return env


def vhq_process(args: list[str], env: dict[str, str], **kw) -> subprocess.Popen:
    """``vhq ARGS`` in a new process (the console script's code path)."""
    return subprocess.Popen([sys.executable, "-m", "cli", *[str(a) for a in args]], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)
