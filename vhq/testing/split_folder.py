"""A tiny `vhq split`-style test set: synthetic face clips + ``<split>.csv``, one clip per person."""

from __future__ import annotations

from pathlib import Path

from vhq.dataset.split import FIELDS
from vhq.io import files, video
from vhq.testing import synthetic


def clip_id(person: str, i: int, frames: int) -> str:
    return f"{person}#vid{i:04d}#{i * 100:06d}#{i * 100 + frames:06d}"


def make_split(root: Path, persons=("id001", "id002", "id003"), frames: int = 6, size: int = 64, split: str = "test") -> Path:
    """``root/clips/<clip_id>.mp4`` and ``root/<split>.csv`` (paths relative to root), one clip per person."""
    rows = []
    for i, person in enumerate(persons):
        cid = clip_id(person, i, frames)
        spec = synthetic.SyntheticVideo(width=size, height=size, frames=frames, fps=25.0, face_scale=0.8, seed=i)
        path = root / "clips" / f"{cid}.mp4"
        if not path.exists():
            video.write_video(path, spec.iter_batches(), spec.fps, crf=18, preset="ultrafast")
        rows.append({"clip_id": cid, "path": f"clips/{cid}.mp4", "person_id": person, "video_id": f"vid{i:04d}",
                     "frames": frames, "fps": 25, "manifest_fingerprint": "test"})
    files.write_csv(root / f"{split}.csv", rows, FIELDS)
    return root
