"""``download_status.csv``: one row per YouTube id, the record later stages read.

``file`` and ``sections`` list the downloaded files (relative to the download folder) and, in the
same order, the span of the source video each one holds: ``START-END`` in seconds, where START is
the *measured* time of the file's first frame on the source timeline, so a clip at source time t
is at ``t - START`` in that file.

A run over a shard (``--shard K/N``) writes ``download_status.K-of-N.csv`` so machines sharing a
folder never overwrite each other's table; ``read`` merges every table in the folder, newest row
per video winning.
"""

from __future__ import annotations

import csv
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from . import files
from .errors import BadInput

STATUS_FILE = "download_status.csv"
FIELDS = ("video_id", "status", "reason", "height", "width", "fps", "format", "file", "sections", "yt_dlp_version", "updated")


@dataclass(frozen=True)
class Section:
    file: Path
    start: float
    end: float

    def contains(self, t0: float, t1: float) -> bool:
        return self.start <= t0 + 1e-6 and t1 <= self.end + 1e-6


def status_path(out_dir: str | os.PathLike, shard=None) -> Path:
    out = Path(out_dir)
    if shard is not None and shard.count > 1:
        return out / f"download_status.{shard.index}-of-{shard.count}.csv"
    return out / STATUS_FILE


def format_sections(sections: list[tuple[float, float]]) -> str:
    return ";".join(f"{a:.3f}-{b:.3f}" for a, b in sections)


def sections(row: dict, out_dir: str | os.PathLike) -> list[Section]:
    """The files of an ``ok`` row with the source span each one holds."""
    names = [f for f in (row.get("file") or "").split(";") if f]
    spans = [s for s in (row.get("sections") or "").split(";") if s]
    if len(names) != len(spans):
        raise BadInput(f"{out_dir}/{STATUS_FILE}: row {row.get('video_id')} lists {len(names)} files but {len(spans)} sections")
    out = []
    for name, span in zip(names, spans):
        a, _, b = span.partition("-")
        out.append(Section(Path(out_dir) / name, float(a), float(b)))
    return out


def read(out_dir: str | os.PathLike) -> dict[str, dict]:
    """Every status table in ``out_dir`` merged: video id → newest row."""
    out = Path(out_dir)
    merged: dict[str, dict] = {}
    tables = sorted(out.glob("download_status*.csv")) if out.is_dir() else []
    for table in tables:
        try:
            rows = files.read_csv(table)
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise BadInput(f"{table}: unreadable status table ({e})", "delete it to start over") from None
        for row in rows:
            vid = row.get("video_id")
            if not vid:
                continue
            old = merged.get(vid)
            if old is None or (row.get("updated") or "") >= (old.get("updated") or ""):
                merged[vid] = row
    return merged


class StatusTable:
    """The table this run writes: rows from earlier runs plus this run's, rewritten atomically after
    every video (a killed run loses at most the videos in flight)."""

    def __init__(self, path: Path, rows: dict[str, dict]):
        self.path = path
        self.rows = dict(rows)
        self._lock = threading.Lock()

    def put(self, row: dict) -> None:
        with self._lock:
            self.rows[row["video_id"]] = {k: row.get(k, "") for k in FIELDS}
            self.flush()

    def flush(self) -> None:
        files.write_csv(self.path, (self.rows[k] for k in sorted(self.rows)), FIELDS)
