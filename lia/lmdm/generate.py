"""Conditional generation (cLMDM): a start image → its code α_1 → an LMDM code sequence → LIA frames.

Frame i decodes ``z(x_1) + Q α_i`` from the start image's appearance (``G.decode``, absolute motion);
α_1 = E(x_1), so frame 1 is LIA's self-reconstruction of the start image. Videos longer than the
LMDM's sequence length L are generated autoregressively, as in the paper: the last code of a chunk is
the α_1 of the next, which adds L − 1 new codes; the boundary code is shared, never repeated.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from lia.animate import images_to_frames, source_to_input
from lia.generator import Generator
from lia.lmdm.diffusion import sample_ddim, sample_ddpm
from lia.lmdm.model import Lmdm

SAMPLERS = ("ddpm", "ddim")


@dataclass(frozen=True)
class Sampling:
    sampler: str = "ddpm"     # paper: ancestral DDPM over all steps
    steps: int | None = None  # ddim only: number of steps (not the paper's)

    def label(self) -> str:
        return "ddpm" if self.sampler == "ddpm" else f"ddim{self.steps} (not the paper's sampler)"


def video_seed(seed: int, key: str) -> int:
    """The seed of one video: a hash of the run's seed and the video's name (stable under list changes)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") >> 1


def _chunk(lmdm: Lmdm, alpha1: torch.Tensor, sampling: Sampling, generator: torch.Generator) -> torch.Tensor:
    a1 = lmdm.norm.encode(alpha1)
    if sampling.sampler == "ddpm":
        m = sample_ddpm(lmdm.net, lmdm.diffusion, a1, lmdm.seq_len, generator)
    elif sampling.sampler == "ddim":
        m = sample_ddim(lmdm.net, lmdm.diffusion, a1, lmdm.seq_len, sampling.steps or 50, generator)
    else:
        raise ValueError(f"unknown sampler {sampling.sampler!r}: choose from {', '.join(SAMPLERS)}")
    return lmdm.norm.residual_to_codes(alpha1, m)


@torch.no_grad()
def sample_codes(lmdm: Lmdm, alpha1: torch.Tensor, frames: int, generator: torch.Generator, sampling: Sampling = Sampling()) -> torch.Tensor:
    """``frames`` codes ``[B, frames, D]`` starting with ``alpha1`` ``[B, D]`` (returned exactly), in chunks."""
    if frames < 1:
        raise ValueError("frames must be >= 1")
    codes = [alpha1[:, None]]
    have, last = 1, alpha1
    while have < frames:
        chunk = _chunk(lmdm, last, sampling, generator)
        codes.append(chunk[:, 1:])
        have += chunk.shape[1] - 1
        last = chunk[:, -1]
    return torch.cat(codes, dim=1)[:, :frames]


@torch.no_grad()
def render(lia: Generator, start, codes: torch.Tensor, batch: int = 16):
    """uint8 frames ``[b, S, S, 3]`` in batches: the start image animated with each code of ``codes`` ``[N, D]``."""
    device, dtype = next(lia.parameters()).device, next(lia.parameters()).dtype
    z, feats = lia.encode_appearance(source_to_input(start, lia.size).to(device, dtype))
    for i in range(0, codes.shape[0], batch):
        yield images_to_frames(lia.decode(z, feats, codes[i:i + batch].to(device, dtype)).float())


@torch.no_grad()
def generate(lia: Generator, lmdm: Lmdm, start, frames: int, seed: int, sampling: Sampling = Sampling(), batch: int = 16):
    """(codes ``[frames, D]``, iterator of uint8 frame batches) for one start image (uint8 ``[H, W, 3]``)."""
    device, dtype = next(lia.parameters()).device, next(lia.parameters()).dtype
    alpha1 = lia.encode_motion(source_to_input(start, lia.size).to(device, dtype)).float()
    net_device = next(lmdm.net.parameters()).device
    g = torch.Generator().manual_seed(seed)
    codes = sample_codes(lmdm, alpha1.to(net_device), frames, g, sampling)[0]
    return codes, render(lia, start, codes, batch)


# ---------------------------------------------------------------- `vhq generate`: one video per start image

STATUS = "generate"
STATUS_FIELDS = ("key", "status", "reason", "start", "seed", "frames", "sampler", "lia_sha256", "lmdm_sha256", "output", "updated")


def find_starts(start: Path) -> dict[str, Path]:
    """``{key: path}``: one image or video (its first frame), or every image and video directly in a folder."""
    from vhq.errors import BadInput
    from vhq.io import video

    if start.is_file():
        return {start.stem: start}
    if not start.is_dir():
        raise BadInput(f"{start}: no such start image or folder")
    found = {p.stem: p for p in video.frame_files(start)}
    found.update({p.stem: p for p in sorted(start.iterdir()) if p.suffix.lower() in video.VIDEO_EXTS})
    if not found:
        raise BadInput(f"{start}: no start images (PNG/JPEG) or videos in the folder")
    return dict(sorted(found.items()))


def read_start(path: Path) -> torch.Tensor:
    from vhq.io import video

    if path.suffix.lower() in video.FRAME_EXTS:
        return video.read_image(path)
    return video.read_frames(path, 0, 1)[0]


def write_video(dest: Path, batches, fps: float, fmt: str) -> Path:
    """One generated video in the layout of `vhq bench` predictions."""
    from vhq.io import video

    return video.write_lossless(dest, batches, fps, fmt)


def generate_videos(lia: Generator, lmdm: Lmdm, starts: dict[str, Path], out: Path, *, frames: int, seed: int, sampling: Sampling,
                    identity: dict, fps: float = 25.0, fmt: str = "mp4", batch: int = 16) -> tuple[int, int]:
    """Write ``out/<key>.mp4`` (or ``out/<key>/`` PNG frames) per start and ``out/generate.csv``; (done, reused).

    A video whose row is ``ok`` for the same LIA, LMDM, seed, frames and sampler is kept on a re-run.
    """
    from vhq import console
    from vhq.io import files, tables

    out.mkdir(parents=True, exist_ok=True)
    status_file = tables.table_path(out, STATUS)
    previous = tables.read_table(status_file, "key", STATUS_FIELDS)
    done = reused = 0
    with tables.Table(status_file, "key", STATUS_FIELDS, previous) as table:
        for key, path in console.progress(list(starts.items()), desc="generate"):
            s = video_seed(seed, key)
            dest = out / (f"{key}.mp4" if fmt == "mp4" else key)
            row = {"key": key, "start": str(path), "seed": s, "frames": frames, "sampler": sampling.label(),
                   "lia_sha256": identity["lia_sha256"], "lmdm_sha256": identity["lmdm_sha256"], "output": dest.name}
            prev = previous.get(key)
            if prev and prev["status"] == "ok" and dest.exists() and all(str(prev.get(k)) == str(v) for k, v in row.items()):
                reused += 1
                continue
            try:
                _, batches = generate(lia, lmdm, read_start(path), frames, s, sampling, batch)
                files.remove(out / (key if fmt == "mp4" else f"{key}.mp4"))
                write_video(dest, batches, fps, fmt)
            except Exception as e:
                table.put({**row, "status": "failed", "reason": f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"})
                raise
            table.put({**row, "status": "ok", "reason": ""})
            done += 1
    return done, reused
