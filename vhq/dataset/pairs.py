"""The frozen cross-identity pairs of ``vhq bench cross`` and the rule that drew them.

LIA scores cross-identity transfer on pairs (source clip, driving clip) it never published, so
every lab drew its own. vhq ships one list, ``manifests/voxcelebhq_cross_pairs.csv``, drawn once
from the test partition of the manifest ``vhq manifest import-fomm`` builds from FOMM's
``vox-metadata.csv``, by this rule:

1. the test clips, in clip-id order, are the sources — each exactly once;
2. a driving clip is any test clip of **another person** whose manifest span has at least
   ``MIN_DRIVING_FRAMES`` (100) frames (the protocol animates the first 100 driving frames);
3. the driving clip of source S is the candidate D with the smallest
   ``sha256("vhq-cross-v1|" + S + "|" + D)`` (hex digest, compared as text);
4. pair ids are ``x0000, x0001, …`` in source order.

The rule uses only the clip ids, persons and spans, and sha256 — no random-number generator
whose stream could change between library versions — and a source's driving clip depends on no
other source. Regenerate (the test suite checks that this reproduces the shipped file)::

    vhq manifest import-fomm vox-metadata.csv --out voxceleb.csv
    vhq manifest pairs voxceleb.csv --out manifests/voxcelebhq_cross_pairs.csv

:func:`read_pairs` is the one reader of a pairs file (``vhq bench cross`` uses it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from vhq.dataset import manifest as M
from vhq.errors import BadInput
from vhq.io import files

SEED = "vhq-cross-v1"
MIN_DRIVING_FRAMES = 100
FIELDS = ("pair_id", "source_clip", "driving_clip", "source_person", "driving_person")
PAIRS_FILE = "manifests/voxcelebhq_cross_pairs.csv"
SHIPPED = Path(__file__).resolve().parents[2] / PAIRS_FILE


def score(source: str, driving: str, seed: str = SEED) -> str:
    return hashlib.sha256(f"{seed}|{source}|{driving}".encode("utf-8")).hexdigest()


def draw_pairs(clips: Sequence[M.Clip], seed: str = SEED, min_driving_frames: int = MIN_DRIVING_FRAMES) -> list[dict]:
    """Pairs (rows of ``FIELDS``) of the test clips of ``clips`` by the rule in the module docstring."""
    test = sorted((c for c in clips if c.partition == "test"), key=lambda c: c.clip_id)
    if not test:
        raise BadInput("the manifest has no test clips")
    drivers = [c for c in test if c.frames >= min_driving_frames]
    rows = []
    for i, s in enumerate(test):
        candidates = [d for d in drivers if d.person_id != s.person_id]
        if not candidates:
            raise BadInput(f"test clip {s.clip_id}: no clip of another person with at least {min_driving_frames} frames to drive it")
        d = min(candidates, key=lambda d: score(s.clip_id, d.clip_id, seed))
        rows.append({"pair_id": f"x{i:04d}", "source_clip": s.clip_id, "driving_clip": d.clip_id,
                     "source_person": s.person_id, "driving_person": d.person_id})
    return rows


def write_pairs(manifest_path: str | Path, out: str | Path = PAIRS_FILE, seed: str = SEED) -> tuple[Path, dict]:
    m = M.load(manifest_path)
    rows = draw_pairs(m.clips, seed)
    out = files.write_csv(out, rows, FIELDS)
    meta = {
        "rule": "vhq.dataset.pairs (see its docstring)", "seed": seed, "min_driving_frames": MIN_DRIVING_FRAMES,
        "manifest_fingerprint": m.fingerprint, "test_clips": len(rows),
        "test_persons": len({r["source_person"] for r in rows}), "driving_clips": len({r["driving_clip"] for r in rows}),
        "sha256": files.sha256_file(out),
    }
    files.write_json(Path(str(out) + ".json"), meta)
    return out, meta


@dataclass(frozen=True)
class Pair:
    pair_id: str
    source_clip: str
    driving_clip: str


def read_pairs(path: Path | None = None) -> tuple[Path, list[Pair]]:
    """(pairs file, pairs in file order); the shipped file when ``path`` is None."""
    path = Path(path) if path is not None else SHIPPED
    if not path.is_file():
        raise BadInput(f"{path}: no such pairs file", f"the shipped file is {PAIRS_FILE}")
    rows = files.read_csv(path)
    if not rows or not {"pair_id", "source_clip", "driving_clip"} <= set(rows[0]):
        raise BadInput(f"{path}: not a pairs file (needs columns pair_id, source_clip, driving_clip)")
    pairs = [Pair(r["pair_id"], r["source_clip"], r["driving_clip"]) for r in rows]
    if len({p.pair_id for p in pairs}) != len(pairs):
        raise BadInput(f"{path}: duplicate pair ids")
    return path, pairs
