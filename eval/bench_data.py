"""What ``vhq bench`` runs on: the split lists of ``vhq split`` and the frozen cross-identity pairs.

``--data DIR`` is the folder holding ``<split>.csv`` (``vhq split --out``), or a folder with a
``split/`` subfolder holding it. Paths in the list are relative to the list's folder.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from vhq import files, video
from vhq.errors import BadInput

SHIPPED_PAIRS = Path(__file__).resolve().parents[1] / "manifests" / "voxcelebhq_cross_pairs.csv"
PAIR_FIELDS = ("pair_id", "source_clip", "driving_clip", "source_person", "driving_person")


@dataclass(frozen=True)
class TestClip:
    clip_id: str
    path: Path
    person_id: str


def split_list(data: Path, split: str) -> Path:
    data = Path(data)
    for cand in (data / f"{split}.csv", data / "split" / f"{split}.csv"):
        if cand.is_file():
            return cand
    raise BadInput(f"--data {data}: no {split}.csv (looked in {data} and {data / 'split'})", "pass the --out folder of `vhq split`")


def read_split(data: Path, split: str) -> tuple[Path, list[TestClip]]:
    """(list file, clips in clip-id order); every listed file must exist."""
    listing = split_list(data, split)
    with open(listing, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"clip_id", "path"} <= set(reader.fieldnames):
            raise BadInput(f"{listing}: not a `vhq split` list (needs columns clip_id, path)")
        rows = list(reader)
    clips, absent = [], []
    for r in rows:
        p = (listing.parent / r["path"]).resolve()
        if not p.exists():
            absent.append(r["clip_id"])
        clips.append(TestClip(r["clip_id"], p, r.get("person_id", "")))
    if absent:
        more = f" … and {len(absent) - 5} more" if len(absent) > 5 else ""
        raise BadInput(f"{listing}: {len(absent)} listed clip file(s) are missing: {', '.join(absent[:5])}{more}", "re-run `vhq crop` and `vhq split`")
    if not clips:
        raise BadInput(f"{listing}: the {split} list is empty")
    ids = [c.clip_id for c in clips]
    if len(set(ids)) != len(ids):
        raise BadInput(f"{listing}: duplicate clip ids")
    return listing, sorted(clips, key=lambda c: c.clip_id)


@dataclass(frozen=True)
class Pair:
    pair_id: str
    source_clip: str
    driving_clip: str


def read_pairs(path: Path | None = None) -> tuple[Path, list[Pair]]:
    path = Path(path) if path is not None else SHIPPED_PAIRS
    if not path.is_file():
        raise BadInput(f"{path}: no such pairs file", "the shipped file is manifests/voxcelebhq_cross_pairs.csv")
    rows = files.read_csv(path)
    if not rows or not {"pair_id", "source_clip", "driving_clip"} <= set(rows[0]):
        raise BadInput(f"{path}: not a pairs file (needs columns pair_id, source_clip, driving_clip)")
    pairs = [Pair(r["pair_id"], r["source_clip"], r["driving_clip"]) for r in rows]
    if len({p.pair_id for p in pairs}) != len(pairs):
        raise BadInput(f"{path}: duplicate pair ids")
    return path, pairs


def first_frame(path: Path):
    return video.read_frames(path, 0, 1)[0]
