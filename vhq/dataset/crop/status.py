"""``crop_status.csv``: one row per clip with every parameter used and, for a dropped clip, why.

Rows are also appended to a journal (``crop_status.journal``, one JSON object per line, synced
per clip) so a killed run loses nothing; the CSV is rewritten atomically every few seconds and at
the end, after which the journal is removed. A run over ``--shard K/N`` writes
``crop_status.K-of-N.csv`` (and journal) so machines sharing the folder never overwrite each other;
``read`` merges everything in the folder, the newest row per clip winning (``vhq.io.tables``).
"""

from __future__ import annotations

import os
from pathlib import Path

from vhq.io import tables

NAME = "crop_status"

OK = "ok"
DROPPED = "dropped"  # a fact about the clip and its download: re-runs keep it
SKIPPED = "skipped"  # the source is not downloaded (yet): re-runs look again
ERROR = "error"  # something a re-run may fix: the exit code is non-zero
FINAL = (OK, DROPPED)

FIELDS = (
    "clip_id", "video_id", "person_id", "partition", "status", "reason", "detail",
    "box", "output", "output_sha256", "output_bytes", "frames", "out_fps", "start_frame", "end_frame", "out_start_frame", "out_end_frame",
    "trimmed_head", "trimmed_tail", "cuts",
    "source", "source_width", "source_height", "source_fps", "source_offset", "resampled",
    "box_left", "box_top", "box_right", "box_bottom", "crop_x", "crop_y", "crop_side", "crop_width", "crop_height", "enlarge_used", "shift_x", "shift_y",
    "face_iou", "face_ious", "face_frames",
    "size", "format", "codec", "crf", "preset", "gop", "pix_fmt", "scale_flags",
    "enlarge", "min_crop", "min_inside", "face_check", "face_threshold", "face_samples", "face_detector",
    "cut_detector", "cut_threshold", "cut_min_content", "min_frames",
    "params_key", "vhq_version", "updated",
)


def box_rule(row: dict) -> str:
    """The ``vhq crop --box`` rule a row was cropped with (rows written before ``--box`` existed: vhq)."""
    return row.get("box") or "vhq"


def read(out_dir: str | os.PathLike) -> dict[str, dict]:
    """Every crop table and journal in ``out_dir`` merged: clip id → newest row."""
    return tables.read(out_dir, NAME, "clip_id", FIELDS)


def open_table(out_dir: Path, shard, rows: dict[str, dict], interval: float = 5.0) -> tables.Table:
    """This run's table: earlier rows plus this run's, journalled per clip, rewritten every ``interval`` s."""
    return tables.Table(tables.table_path(out_dir, NAME, shard), "clip_id", FIELDS, rows, interval)
