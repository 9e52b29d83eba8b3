"""The clip manifest: one row per clip, the list every later stage works from.

A manifest is a CSV with the columns in ``COLUMNS``. Frames are on the annotation timeline
(``fps``, 25 for VoxCeleb) of the whole YouTube video; ``end_frame`` is exclusive. The box
``left, top, right, bottom`` is in pixels of a ``ref_width × ref_height`` frame (the resolution the
box was measured on), so a later stage scales it to whatever resolution it downloaded.

``import_fomm`` turns FOMM's ``vox-metadata.csv`` (video-preprocessing) into a manifest:

- rows are validated; a bad row is an error naming its line;
- exact duplicate rows are dropped (308 in the published file);
- the clip id is FOMM's own row key ``<person>#<video>#<start:06d>#<end:06d>`` (the stem of the
  files FOMM's ``load_videos.py`` writes), so clips map 1:1 to FOMM/LIA clips;
- the partition is decided per person: a person with any ``test`` row is a test person (FOMM's
  file has two persons with rows in both partitions), which makes train and test
  identity-disjoint; rows sharing a clip id after that are merged.

The manifest's fingerprint is a hash of its sorted clip ids: it names exactly which clip list a
score or a split was computed on, and is recomputed from the file, so it cannot go stale.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from vhq.errors import BadInput, NetworkError
from vhq.io import files, http
from vhq.io.cache import cache_root

FOMM_URL = "https://raw.githubusercontent.com/AliaksandrSiarohin/video-preprocessing/master/vox-metadata.csv"
FOMM_SHA256 = "dfbaf55a6edaaf84add29f93692f8bb7289aff1102631bcdf1b1aaf52f3953f7"
FOMM_COLUMNS = ("video_id", "start", "end", "bbox", "fps", "width", "height", "partition", "person_id")

COLUMNS = (
    "clip_id", "video_id", "person_id", "partition",
    "start_frame", "end_frame", "fps",
    "ref_width", "ref_height", "left", "top", "right", "bottom",
)
INT_COLUMNS = ("start_frame", "end_frame", "ref_width", "ref_height", "left", "top", "right", "bottom")
PARTITIONS = ("train", "test")
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
BBOX = re.compile(r"^\s*(\d+)-(\d+)-(\d+)-(\d+)\s*$")


@dataclass(frozen=True)
class Clip:
    clip_id: str
    video_id: str
    person_id: str
    partition: str
    start_frame: int
    end_frame: int
    fps: float
    ref_width: int
    ref_height: int
    left: int
    top: int
    right: int
    bottom: int

    @property
    def start_s(self) -> float:
        return self.start_frame / self.fps

    @property
    def end_s(self) -> float:
        return self.end_frame / self.fps

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    def as_row(self) -> dict:
        row = {c: getattr(self, c) for c in COLUMNS}
        row["fps"] = format_fps(self.fps)
        return row


def format_fps(fps: float) -> str:
    return str(int(fps)) if float(fps).is_integer() else repr(float(fps))


def clip_key(person_id: str, video_id: str, start: int, end: int) -> str:
    """FOMM's row key, the stem of the clip files its ``load_videos.py`` writes."""
    return f"{person_id}#{video_id}#{start:06d}#{end:06d}"


def fingerprint(clip_ids: Iterable[str]) -> str:
    """sha256 of the sorted clip ids: the identity of a clip list, independent of row order."""
    return files.sha256_strings(sorted(clip_ids))


@dataclass
class Manifest:
    path: Path | None
    clips: list[Clip]
    fingerprint: str = ""

    def __post_init__(self):
        if not self.fingerprint:
            self.fingerprint = fingerprint(c.clip_id for c in self.clips)

    def __len__(self) -> int:
        return len(self.clips)

    def by_video(self) -> dict[str, list[Clip]]:
        out: dict[str, list[Clip]] = {}
        for c in self.clips:
            out.setdefault(c.video_id, []).append(c)
        return out

    def counts(self) -> dict:
        """Clips, videos and persons per partition (the numbers the README and reports quote)."""
        out: dict = {"clips": len(self.clips), "videos": len({c.video_id for c in self.clips}),
                     "persons": len({c.person_id for c in self.clips}), "frames": sum(c.frames for c in self.clips)}
        for p in PARTITIONS:
            sub = [c for c in self.clips if c.partition == p]
            out[p] = {"clips": len(sub), "videos": len({c.video_id for c in sub}), "persons": len({c.person_id for c in sub})}
        return out


# ----------------------------------------------------------------------------------------------
# Reading and validating a vhq manifest


def _bad(path, line: int, what: str) -> BadInput:
    return BadInput(f"{path} line {line}: {what}", "fix or delete that row (line 1 is the header)")


def _int(path, line: int, name: str, value: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        raise _bad(path, line, f"{name} {value!r} is not an integer") from None


def _fps(path, line: int, value: str) -> float:
    try:
        fps = float(str(value).strip())
    except (TypeError, ValueError):
        raise _bad(path, line, f"fps {value!r} is not a number") from None
    if not 0 < fps < math.inf:
        raise _bad(path, line, f"fps {value!r} must be a positive finite number")
    return fps


MAX_ID_BYTES = 200  # clip ids become file names (<= 255 bytes with the extension)


def _check_clip(path, line: int, c: Clip) -> None:
    for name in ("video_id", "person_id"):
        value = getattr(c, name)
        if len(value) > MAX_ID_BYTES:
            raise _bad(path, line, f"{name} is {len(value)} characters long (at most {MAX_ID_BYTES})")
    if not SAFE_ID.match(c.video_id):
        raise _bad(path, line, f"video_id {c.video_id!r} has characters other than letters, digits, '-' and '_'")
    if not SAFE_ID.match(c.person_id):
        raise _bad(path, line, f"person_id {c.person_id!r} has characters other than letters, digits, '-' and '_'")
    if c.partition not in PARTITIONS:
        raise _bad(path, line, f"partition {c.partition!r} is not one of {', '.join(PARTITIONS)}")
    if c.start_frame < 0 or c.end_frame <= c.start_frame:
        raise _bad(path, line, f"frames {c.start_frame}..{c.end_frame} are not an increasing range from 0")
    if c.ref_width <= 0 or c.ref_height <= 0:
        raise _bad(path, line, f"reference size {c.ref_width}x{c.ref_height} is not positive")
    if c.right <= c.left or c.bottom <= c.top or min(c.left, c.top) < 0:
        raise _bad(path, line, f"box {c.left},{c.top},{c.right},{c.bottom} is not left<right, top<bottom, non-negative")


def load(path: str | os.PathLike) -> Manifest:
    """Read and validate a vhq manifest; any bad row raises ``BadInput`` naming its line."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{p}: no such manifest", "make one with `vhq manifest import-fomm --out manifests/voxceleb.csv`")
    try:
        text = p.read_text(encoding="utf-8-sig")  # a byte-order mark (Excel's "CSV UTF-8") is not part of the header
    except UnicodeDecodeError:
        raise BadInput(f"{p}: not a UTF-8 text file") from None
    try:
        return _load_rows(p, csv.DictReader(io.StringIO(text)))
    except csv.Error as e:
        raise BadInput(f"{p}: not a readable CSV file ({e})") from None


def _load_rows(p: Path, reader: csv.DictReader) -> Manifest:
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        if set(FOMM_COLUMNS) <= set(reader.fieldnames or []):
            raise BadInput(f"{p}: this is FOMM's vox-metadata.csv, not a vhq manifest", f"convert it: vhq manifest import-fomm {p} --out manifests/voxceleb.csv")
        raise BadInput(f"{p} line 1: missing column(s) {', '.join(missing)}", f"a manifest has the columns {', '.join(COLUMNS)}")
    clips: list[Clip] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(reader):
        line = i + 2
        if None in row or any(row.get(c) is None for c in COLUMNS):
            raise _bad(p, line, f"has {len([v for v in row.values() if v is not None])} fields, the header has {len(reader.fieldnames)}")
        ints = {c: _int(p, line, c, row[c]) for c in INT_COLUMNS}
        c = Clip(clip_id=row["clip_id"].strip(), video_id=row["video_id"].strip(), person_id=row["person_id"].strip(),
                 partition=row["partition"].strip(), fps=_fps(p, line, row["fps"]), **ints)
        if (not c.clip_id or "/" in c.clip_id or "\\" in c.clip_id or c.clip_id.startswith(".") or len(c.clip_id.encode()) > MAX_ID_BYTES
                or any(ord(ch) < 32 or ord(ch) == 127 for ch in c.clip_id)):
            shown = c.clip_id if len(c.clip_id) <= 60 else c.clip_id[:40] + f"… ({len(c.clip_id)} characters)"
            raise _bad(p, line, f"clip_id {shown!r} is empty, too long or not usable as a file name")
        _check_clip(p, line, c)
        if c.clip_id in seen:
            raise _bad(p, line, f"clip_id {c.clip_id!r} repeats line {seen[c.clip_id]}")
        seen[c.clip_id] = line
        clips.append(c)
    if not clips:
        raise BadInput(f"{p}: the manifest has no rows")
    return Manifest(p, clips)


def save(manifest_clips: Sequence[Clip], dest: str | os.PathLike, meta: dict | None = None) -> Manifest:
    """Write clips (sorted by clip id) atomically, plus ``<dest>.json`` with counts and provenance."""
    clips = sorted(manifest_clips, key=lambda c: c.clip_id)
    m = Manifest(Path(dest), clips)
    files.write_csv(dest, (c.as_row() for c in clips), COLUMNS)
    files.write_json(meta_path(dest), {"fingerprint": m.fingerprint, "counts": m.counts(), **(meta or {})})
    return m


def meta_path(manifest_path: str | os.PathLike) -> Path:
    p = Path(manifest_path)
    return p.with_name(p.name + ".json")


# ----------------------------------------------------------------------------------------------
# FOMM import


@dataclass
class ImportReport:
    source: str
    sha256: str
    verified: bool
    rows: int
    exact_duplicates: int
    merged_duplicates: int
    conflicting_duplicates: list[tuple[int, int]] = field(default_factory=list)
    moved_to_test: dict[str, int] = field(default_factory=dict)  # person -> rows moved train -> test

    def as_dict(self) -> dict:
        return {
            "source": self.source, "source_sha256": self.sha256, "source_verified": self.verified,
            "source_rows": self.rows, "exact_duplicates": self.exact_duplicates,
            "merged_duplicates": self.merged_duplicates,
            "conflicting_duplicates": [list(x) for x in self.conflicting_duplicates],
            "moved_to_test": self.moved_to_test,
        }


def fetch_source(source: str, sha256: str | None, timeout: float = http.TIMEOUT) -> tuple[Path, str, bool]:
    """A local copy of ``source`` (path or http(s) URL) with its sha256 and whether it matched ``sha256``.

    A URL is downloaded into the cache once; a mismatching hash is an error (the file changed, or a
    proxy answered with something else), a local file is only checked when ``sha256`` is given.
    """
    if re.match(r"^https?://", source):
        dest = cache_root() / "downloads" / (files.sha256_strings([source])[:16] + "-" + Path(source.split("?")[0]).name)
        if not (dest.is_file() and (sha256 is None or files.sha256_file(dest) == sha256)):
            try:
                http.download(source, dest, sha256, timeout)
            except http.Mismatch as e:
                raise NetworkError(e.message, f"{e.hint}; pass a local copy (and --sha256 '' to skip the check)") from None
            except NetworkError as e:
                raise NetworkError(e.message, "download the file yourself and pass its path") from None
        path = dest
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise BadInput(f"{path}: no such file", f"pass the path or URL of FOMM's vox-metadata.csv (default: {FOMM_URL})")
    got = files.sha256_file(path)
    if sha256 is not None and got != sha256:
        raise BadInput(f"{path}: sha256 {got} does not match the expected {sha256}", "pass --sha256 '' to import a different file on purpose")
    return path, got, sha256 is not None or got == FOMM_SHA256


def parse_fomm(path: str | os.PathLike) -> list[tuple[int, Clip]]:
    """Validate FOMM rows; returns (line number, clip) with FOMM's own partition per row."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"{p}: not a UTF-8 text file") from None
    try:
        return _parse_fomm_rows(p, csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise BadInput(f"{p}: not a readable CSV file ({e})") from None


def _parse_fomm_rows(p: Path, reader) -> list[tuple[int, Clip]]:
    header = next(reader, None)
    if header is None:
        raise BadInput(f"{p}: empty file", "expected FOMM's vox-metadata.csv")
    header = [h.strip() for h in header]
    need = [c for c in FOMM_COLUMNS if c != "person_id"]
    missing = [c for c in need if c not in header]
    if missing:
        raise BadInput(f"{p} line 1: missing column(s) {', '.join(missing)}", f"FOMM's vox-metadata.csv has the header {','.join(FOMM_COLUMNS)}")
    col = {h: i for i, h in enumerate(header)}
    out: list[tuple[int, Clip]] = []
    for i, fields in enumerate(reader):
        line = i + 2
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise _bad(p, line, f"has {len(fields)} fields, the header has {len(header)}")
        get = lambda name: fields[col[name]].strip()  # noqa: E731
        video_id = get("video_id")
        person_id = get("person_id") if "person_id" in col else ""
        if "#" in video_id:  # older FOMM files stored "<youtube id>#<person>"
            video_id, _, old_person = video_id.partition("#")
            person_id = person_id or old_person
        if not person_id:
            raise _bad(p, line, "has no person_id")
        m = BBOX.match(get("bbox"))
        if not m:
            raise _bad(p, line, f"bbox {get('bbox')!r} is not left-top-right-bottom integers")
        left, top, right, bottom = (int(v) for v in m.groups())
        start, end = _int(p, line, "start", get("start")), _int(p, line, "end", get("end"))
        c = Clip(clip_id=clip_key(person_id, video_id, start, end) if start >= 0 and end >= 0 else "",
                 video_id=video_id, person_id=person_id, partition=get("partition"),
                 start_frame=start, end_frame=end, fps=_fps(p, line, get("fps")),
                 ref_width=_int(p, line, "width", get("width")), ref_height=_int(p, line, "height", get("height")),
                 left=left, top=top, right=right, bottom=bottom)
        _check_clip(p, line, c)
        out.append((line, c))
    if not out:
        raise BadInput(f"{p}: no rows after the header")
    return out


def import_fomm(source: str = FOMM_URL, dest: str | os.PathLike = "manifests/voxceleb.csv", sha256: str | None = "default") -> tuple[Manifest, ImportReport]:
    """FOMM's vox-metadata.csv → a deduplicated, person-disjoint vhq manifest at ``dest``."""
    if sha256 == "default":
        sha256 = FOMM_SHA256 if source == FOMM_URL else None
    files.check_writable(dest)
    path, digest, verified = fetch_source(source, sha256 or None)
    rows = parse_fomm(path)
    report = ImportReport(source=source, sha256=digest, verified=verified and digest == (sha256 or FOMM_SHA256), rows=len(rows),
                          exact_duplicates=0, merged_duplicates=0)

    test_persons = {c.person_id for _, c in rows if c.partition == "test"}
    moved: Counter = Counter()
    kept: dict[str, tuple[int, Clip]] = {}
    seen_rows: set[Clip] = set()
    for line, c in rows:
        if c in seen_rows:
            report.exact_duplicates += 1
            continue
        seen_rows.add(c)
        part = "test" if c.person_id in test_persons else "train"
        if part != c.partition:
            moved[c.person_id] += 1
        c = Clip(**{**c.__dict__, "partition": part})
        if c.clip_id in kept:
            first_line, first = kept[c.clip_id]
            if first == c:
                report.merged_duplicates += 1  # the same clip listed under both partitions
            else:
                report.conflicting_duplicates.append((first_line, line))
            continue
        kept[c.clip_id] = (line, c)
    report.moved_to_test = dict(sorted(moved.items()))
    meta = {"format": "vhq-manifest-1", **report.as_dict()}
    manifest = save([c for _, c in kept.values()], dest, meta)
    return manifest, report


def describe(m: Manifest) -> str:
    c = m.counts()
    return (f"{c['clips']} clips, {c['videos']} videos, {c['persons']} persons "
            f"(train {c['train']['clips']} clips / {c['train']['persons']} persons, "
            f"test {c['test']['clips']} clips / {c['test']['persons']} persons); fingerprint {m.fingerprint[:16]}")


def read_meta(manifest_path: str | os.PathLike) -> dict:
    p = meta_path(manifest_path)
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text())
    except ValueError:
        return {}
