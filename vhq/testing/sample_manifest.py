"""``manifests/sample.csv``: six clips on four synthetic demo videos (no VoxCeleb data), for trying the commands."""

from __future__ import annotations

import os
from pathlib import Path

from vhq.dataset.manifest import Clip, Manifest, clip_key, save
from vhq.testing.synthetic import SyntheticVideo, tube_box

SAMPLE_VIDEOS = (
    # video id, person, partition, clip spans in 25 fps frames
    ("vhqsample00", "vhqp0001", "train", [(10, 60), (75, 150)]),
    ("vhqsample01", "vhqp0001", "train", [(0, 100)]),
    ("vhqsample02", "vhqp0002", "train", [(25, 90), (90, 175)]),
    ("vhqsample03", "vhqp0003", "test", [(5, 105)]),
)


def sample_clips() -> list[Clip]:
    """Rows for the synthetic demo videos: boxes are the synthetic face's box (union over the clip,
    enlarged by 10 %) in a 1280×720 reference frame, like FOMM's tube boxes."""
    clips = []
    for seed, (vid, person, part, spans) in enumerate(SAMPLE_VIDEOS):
        spec = SyntheticVideo(width=1280, height=720, frames=200, fps=25.0, seed=seed)
        for start, end in spans:
            box = tube_box(spec, start, end, inside=True)
            clips.append(Clip(clip_key(person, vid, start, end), vid, person, part, start, end, 25.0, 1280, 720, *box))
    return clips


SAMPLE_PATH = Path(__file__).resolve().parents[2] / "manifests" / "sample.csv"


def write_sample(dest: str | os.PathLike | None = None) -> Manifest:
    return save(sample_clips(), dest or SAMPLE_PATH, {"format": "vhq-manifest-1", "source": "synthetic (vhq.testing.sample_manifest)"})
