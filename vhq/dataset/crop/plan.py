"""``vhq crop --plan``: what the box step alone keeps, before anything is downloaded.

Every video is assumed to be downloaded at ``height`` pixels high with the aspect ratio of the
frame its boxes were measured on (a 1280×720 reference becomes 1920×1080 at 1080p, a 480×360 one
1440×1080), and the ``--box`` rule with its ``--enlarge``, ``--min-crop`` and ``--min-inside`` is
applied to each clip. Shot cuts and the face check need the video and are not counted; neither are
videos that cannot be downloaded at that height. The partition is the person rule of ``vhq split``
(a person with any test clip is a test person).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from vhq.dataset.crop.geometry import Rejected, crop_region
from vhq.dataset.crop.options import Options
from vhq.dataset.manifest import Manifest


@dataclass(frozen=True)
class Plan:
    height: int
    clips: int
    kept: dict[str, int]  # partition -> clips kept
    persons: dict[str, int]  # partition -> persons with a kept clip
    dropped: dict[str, int]  # reason -> clips


def frame_at(ref_width: int, ref_height: int, height: int) -> tuple[int, int]:
    return round(ref_width * height / ref_height), height


def plan(manifest: Manifest, opts: Options, height: int = 1080) -> Plan:
    test_persons = {c.person_id for c in manifest.clips if c.partition == "test"}
    kept: Counter = Counter()
    persons: dict[str, set] = {"train": set(), "test": set()}
    dropped: Counter = Counter()
    for c in manifest.clips:
        w, h = frame_at(c.ref_width, c.ref_height, height)
        try:
            crop_region(c, w, h, opts.box, opts.factor, opts.min_crop, opts.min_inside)
        except Rejected as r:
            dropped[r.reason] += 1
            continue
        part = "test" if c.person_id in test_persons else "train"
        kept[part] += 1
        persons[part].add(c.person_id)
    return Plan(height, len(manifest.clips), {p: kept[p] for p in ("train", "test")}, {p: len(s) for p, s in persons.items()},
                dict(sorted(dropped.items())))


def describe(p: Plan, opts: Options) -> str:
    kept = sum(p.kept.values())
    rule = f"--box {opts.box}" + (f" --enlarge {opts.factor:g}" if opts.factor is not None else "") + f" --min-crop {opts.min_crop}"
    if opts.box == "vhq":
        rule += f" --min-inside {opts.min_inside:g}"
    drops = ", ".join(f"{k} {v:,}" for k, v in p.dropped.items()) or "none"
    return (f"{rule}, every video at {p.height}p: {kept:,} of {p.clips:,} clips kept (train {p.kept['train']:,} clips / "
            f"{p.persons['train']} persons, test {p.kept['test']:,} clips / {p.persons['test']} persons); dropped: {drops}")
