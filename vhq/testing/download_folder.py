"""A small synthetic "download folder" plus manifest for the crop/split/stats tests.

Videos are rendered with ``vhq.testing.synthetic`` (frame index in the background colour, known face box)
and registered in ``download_status.csv`` the way ``vhq download`` records them, including a
section file that starts a few seconds into its source video. Manifest boxes are FOMM-style tube
boxes (union of the face over the clip + 10 %) measured in a 1280×720 reference frame, so the crop
has to rescale them to the 640×360 downloads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vhq.dataset.download.status import FIELDS
from vhq.dataset.manifest import Clip, clip_key, save
from vhq.io import files
from vhq.testing import synthetic

W, H, FPS = 640, 360, 25.0
REF = (1280, 720)


@dataclass(frozen=True)
class Video:
    video_id: str
    spec: synthetic.SyntheticVideo
    section_start: int = 0  # source frame of the file's first frame (a `vhq download` section)


def clip(video: Video, person: str, partition: str, a: int, b: int, box=None) -> Clip:
    box = box or synthetic.tube_box(video.spec, a, b, ref=REF)
    return Clip(clip_key(person, video.video_id, a, b), video.video_id, person, partition, a, b, FPS, REF[0], REF[1], *box)


def write_downloads(root: Path, videos: list[Video], extra_rows: list[dict] = ()) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for v in videos:
        start_s = v.section_start / v.spec.fps
        end_s = start_s + v.spec.frames / v.spec.fps
        name = f"{v.video_id}/{v.video_id}.{int(start_s * 1000):09d}-{int(end_s * 1000):09d}.mp4"
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            synthetic.write_synthetic(path, v.spec, crf=16, preset="ultrafast")
        rows.append({"video_id": v.video_id, "status": "ok", "reason": "", "height": v.spec.height, "width": v.spec.width,
                     "fps": f"{v.spec.fps:g}", "format": "test", "file": name, "sections": f"{start_s:.3f}-{end_s:.3f}",
                     "yt_dlp_version": "test", "updated": "2026-01-01T00:00:00"})
    rows += list(extra_rows)
    files.write_csv(root / "download_status.csv", rows, FIELDS)
    return root


def write_manifest(path: Path, clips: list[Clip]):
    return save(clips, path, {"format": "vhq-manifest-1", "source": "tests"})


def spec(frames: int = 150, **kw) -> synthetic.SyntheticVideo:
    return synthetic.SyntheticVideo(width=kw.pop("width", W), height=kw.pop("height", H), frames=frames, fps=kw.pop("fps", FPS),
                                    face_scale=kw.pop("face_scale", 0.5), **kw)
