"""A crop folder as ``vhq crop`` leaves it (status rows, stand-in clip files, ``crop_run.json``), for split/stats tests."""

from __future__ import annotations

from pathlib import Path

from vhq.dataset.crop import status as crop_status
from vhq.dataset.manifest import Clip, clip_key, save
from vhq.io import files


def make_crops(root: Path, clips: list[Clip], status: dict[str, str], box: str | None = None) -> Path:
    """A crop folder as `vhq crop` leaves it: status rows plus the ok clips' files (``box`` None: rows from before ``--box``)."""
    m = save(clips, root / "m.csv", {"source": "tests"})
    crops = root / "crops"
    rows = []
    for c in clips:
        st = status.get(c.clip_id, "ok")
        row = {"clip_id": c.clip_id, "video_id": c.video_id, "person_id": c.person_id, "partition": c.partition,
               "status": "ok" if st == "ok" else ("skipped" if st == "not-downloaded" else "dropped"),
               "reason": "" if st == "ok" else st, "frames": c.frames, "out_fps": 25, "source_height": 1080, "crop_side": 500,
               "size": 512, "format": "mp4", "updated": "2026-01-01T00:00:00", "box": box or ""}
        if st == "ok":
            row["output"] = f"clips/{c.clip_id}.mp4"
            files.write_bytes(crops / row["output"], b"mp4")
        rows.append(row)
    files.write_csv(crops / "crop_status.csv", rows, crop_status.FIELDS)
    files.write_json(crops / "crop_run.json", {"manifest": str(m.path.resolve()), "manifest_fingerprint": m.fingerprint, "params": {"size": 512}})
    return crops


def clip(person, video, a, part):
    return Clip(clip_key(person, video, a, a + 100), video, person, part, a, a + 100, 25.0, 1280, 720, 10, 10, 300, 300)
