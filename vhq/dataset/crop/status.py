"""``crop_status.csv``: one row per clip with every parameter used and, for a dropped clip, why.

Rows are also appended to a journal (``crop_status.journal``, one JSON object per line, flushed
per clip) so a killed run loses nothing; the CSV is rewritten atomically every few seconds and at
the end, after which the journal is removed. A run over ``--shard K/N`` writes
``crop_status.K-of-N.csv`` (and journal) so machines sharing the folder never overwrite each other;
``read`` merges everything in the folder, the newest row per clip winning.
"""

from __future__ import annotations

import csv
import json
import os
import threading
import time
from pathlib import Path

from vhq.io import files
from vhq.errors import BadInput

OK = "ok"
DROPPED = "dropped"  # a fact about the clip and its download: re-runs keep it
SKIPPED = "skipped"  # the source is not downloaded (yet): re-runs look again
ERROR = "error"  # something a re-run may fix: the exit code is non-zero
FINAL = (OK, DROPPED)

FIELDS = (
    "clip_id", "video_id", "person_id", "partition", "status", "reason", "detail",
    "output", "frames", "out_fps", "start_frame", "end_frame", "out_start_frame", "out_end_frame",
    "trimmed_head", "trimmed_tail", "cuts",
    "source", "source_width", "source_height", "source_fps", "source_offset", "resampled",
    "box_left", "box_top", "box_right", "box_bottom", "crop_x", "crop_y", "crop_side", "enlarge_used", "shift_x", "shift_y",
    "face_iou", "face_ious", "face_frames",
    "size", "format", "codec", "crf", "preset", "gop", "pix_fmt", "scale_flags",
    "enlarge", "min_crop", "min_inside", "face_check", "face_threshold", "face_samples", "face_detector",
    "cut_detector", "cut_threshold", "cut_min_content", "min_frames",
    "params_key", "vhq_version", "updated",
)


def table_path(out_dir: Path, shard=None) -> Path:
    if shard is not None and shard.count > 1:
        return Path(out_dir) / f"crop_status.{shard.index}-of-{shard.count}.csv"
    return Path(out_dir) / "crop_status.csv"


def journal_path(table: Path) -> Path:
    return table.with_suffix(".journal")


def _newer(row: dict, old: dict | None) -> bool:
    return old is None or (row.get("updated") or "") >= (old.get("updated") or "")


def read(out_dir: str | os.PathLike) -> dict[str, dict]:
    """Every crop table and journal in ``out_dir`` merged: clip id → newest row."""
    out = Path(out_dir)
    merged: dict[str, dict] = {}
    if not out.is_dir():
        return merged
    for table in sorted(out.glob("crop_status*.csv")):
        try:
            rows = files.read_csv(table)
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise BadInput(f"{table}: unreadable crop status table ({e})", "delete it to start over") from None
        for row in rows:
            if row.get("clip_id") and _newer(row, merged.get(row["clip_id"])):
                merged[row["clip_id"]] = row
    for journal in sorted(out.glob("crop_status*.journal")):
        with open(journal, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a line torn by a kill
                if isinstance(row, dict) and row.get("clip_id") and _newer(row, merged.get(row["clip_id"])):
                    merged[row["clip_id"]] = {k: "" if row.get(k) is None else str(row.get(k)) for k in FIELDS}
    return merged


class Table:
    """This run's table: earlier rows plus this run's, journalled per clip, flushed every ``interval`` s."""

    def __init__(self, path: Path, rows: dict[str, dict], interval: float = 5.0):
        self.path = path
        self.journal = journal_path(path)
        self.rows = dict(rows)
        self.interval = interval
        self._last = 0.0
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._jf = open(self.journal, "a", encoding="utf-8")

    def put(self, row: dict) -> None:
        row = {k: "" if row.get(k) is None else row.get(k) for k in FIELDS}
        with self._lock:
            self.rows[row["clip_id"]] = row
            self._jf.write(json.dumps(row) + "\n")
            self._jf.flush()
            os.fsync(self._jf.fileno())
            if time.monotonic() - self._last >= self.interval:
                self._flush()

    def _flush(self) -> None:
        files.write_csv(self.path, (self.rows[k] for k in sorted(self.rows)), FIELDS)
        self._last = time.monotonic()

    def close(self) -> None:
        with self._lock:
            self._flush()
            self._jf.close()
            self.journal.unlink(missing_ok=True)
