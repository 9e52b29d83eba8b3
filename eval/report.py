"""CSV outputs of ``vhq eval``: ``per_video.csv``, ``summary.csv`` and the long-form leaderboard.

The leaderboard has one row per (model, metric, protocol, params, test-set fingerprint) and
carries its own provenance, so paired metrics (L1, LPIPS, AKD, …) and distribution metrics (FVD,
KVD, video FID, ACD: sample count ``n_samples``, ``trials`` with ``value`` the mean and
``value_std`` the spread) share one schema and a renderer needs no migration. ``summary.csv`` uses
the same columns. Appends take an exclusive ``fcntl`` lock on ``<file>.lock``, re-read the file,
merge (a re-run replaces its own rows) and ``os.replace`` a complete new file.
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path
from typing import Iterable

from eval import catalog
from vhq import __version__, console
from vhq.errors import BadInput
from vhq.io import cache, files, video

LEADERBOARD_FIELDS = [
    "model",             # --name
    "metric",            # protocol-bearing metric name (l1, lpips_alex, akd_fan2d, fvd_i3d_16f, ...)
    "value",             # the score (mean over trials for multi-trial metrics)
    "value_std",         # std over trials ('' for single-run metrics)
    "trials",            # number of trials (1 for paired metrics)
    "higher_is_better",
    "protocol",          # lia | fomm | stylegan-v | digan | ...
    "weighting",         # frame | video | set
    "params",            # JSON of protocol parameters (size, resize, clip length, stride, crop, ...)
    "n_videos",          # videos that contributed
    "n_frames",          # frames that contributed ('' for set metrics)
    "n_samples",         # clips/samples per side for distribution metrics ('' otherwise)
    "backbone",
    "weight",            # registry name(s), '+'-joined
    "weight_sha256",     # '+'-joined in the same order
    "weight_verified",   # True only if every weight matched its published hash
    "weight_state",
    "testset",           # GT folder name (informative)
    "testset_fingerprint",  # hash of GT keys + content digests + frame counts (authoritative)
    "details",           # JSON of metric-specific counts (e.g. frames with no face); per_video: the per-video CSV
    "vhq_version",
    "created",
]
KEY_FIELDS = ("model", "metric", "protocol", "params", "testset_fingerprint")


def _str(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if v != v else repr(v)
    return str(v)


def leaderboard_rows(summary: Iterable[dict], *, model: str, testset: str, fingerprint: str) -> list[dict]:
    """Summary rows of one run → complete leaderboard rows (every field present, as strings)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    out = []
    for s in summary:
        row = {f: "" for f in LEADERBOARD_FIELDS}
        row.update({k: v for k, v in s.items() if k in row})
        row.update(model=model, testset=testset, testset_fingerprint=fingerprint, vhq_version=__version__, created=now)
        row.setdefault("trials", 1)
        if row["trials"] == "":
            row["trials"] = 1
        out.append({k: _str(v) for k, v in row.items()})
    return out


def with_details(rows: list[dict], **extra) -> list[dict]:
    """Rows with ``extra`` merged into their ``details`` JSON (e.g. ``per_video``: the per-video CSV
    the renderer's bootstrap intervals read)."""
    out = []
    for r in rows:
        d = json.loads(r["details"]) if r.get("details") else {}
        d.update(extra)
        out.append({**r, "details": json.dumps(d, sort_keys=True)})
    return out


def per_video_path(out: Path, model: str, protocol: str) -> Path:
    """One per-video CSV per run (model and protocol): models scored into one folder keep theirs."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in model)
    return Path(out) / f"per_video-{safe}-{protocol}.csv"


def write_per_video(path: Path, rows: list[dict], columns: list[str], **about) -> Path:
    """The per-video CSV and, with ``about`` (model, protocol, test set, fingerprint, params), its ``.json`` sidecar."""
    path = files.write_csv(path, rows, columns)
    if about:
        files.write_json(path.with_suffix(".json"), {**about, "csv": path.name, "csv_sha256": files.sha256_file(path)})
    return path


def with_per_video(rows: list[dict], per_video: Path) -> list[dict]:
    """Rows naming their per-video CSV (absolute until ``per_video_relative_to``) and its sha256."""
    return with_details(rows, per_video=str(Path(per_video).resolve()), per_video_sha256=files.sha256_file(per_video))


def per_video_relative_to(rows: list[dict], table: Path) -> list[dict]:
    """Rows whose ``per_video`` path is relative to the folder of ``table`` (the CSV they are written to)."""
    out = []
    for r in rows:
        d = json.loads(r["details"]) if r.get("details") else {}
        if d.get("per_video") and Path(d["per_video"]).is_absolute():
            d["per_video"] = relative_path(Path(d["per_video"]), table)
            r = {**r, "details": json.dumps(d, sort_keys=True)}
        out.append(r)
    return out


def relative_path(path: Path, table: Path) -> str:
    """``path`` relative to ``table``'s folder (absolute when on another drive)."""
    try:
        return os.path.relpath(Path(path).resolve(), Path(table).resolve().parent)
    except ValueError:
        return str(Path(path).resolve())


def write_summary(path: Path, rows: list[dict]) -> Path:
    return files.write_csv(path, rows, LEADERBOARD_FIELDS)


COUNT_FIELDS = ("n_videos", "n_frames", "n_samples", "trials")


def row_problem(row: dict) -> str | None:
    """What is wrong with one leaderboard row as read (``None``: nothing); names the column."""
    if None in row:
        return f"{len(row[None])} more field(s) than the header"
    if any(v is None for v in row.values()):
        return "fewer fields than the header"
    for k in ("value", "value_std"):
        v = row.get(k, "")
        if v not in ("", "nan", "inf", "-inf"):
            try:
                float(v)
            except ValueError:
                return f"column {k}: {v[:40]!r} is not a number"
    for k in COUNT_FIELDS:
        v = row.get(k, "")
        if v and not (v.isascii() and v.isdigit()):
            return f"column {k}: {v[:40]!r} is not a count"
    if row.get("higher_is_better", "") not in ("", "True", "False"):
        return f"column higher_is_better: {row['higher_is_better'][:40]!r} is not True or False"
    for k in ("details", "params"):
        if not row.get(k):
            continue
        try:
            obj = json.loads(row[k])
        except ValueError:
            return f"column {k}: not JSON"
        if not isinstance(obj, dict):
            return f"column {k}: JSON but not an object"
        if k == "details":
            bench = obj.get("bench", {})
            if not isinstance(bench, dict) or not isinstance(bench.get("model", {}), dict):
                return "column details: 'bench' (and its 'model') must be JSON objects"
            if not isinstance(obj.get("per_video", ""), str):
                return "column details: 'per_video' must be a path"
    return None


def read_leaderboard(path: Path, skip_bad_rows: bool = False) -> list[dict]:
    """Every row of a leaderboard CSV; a malformed row is an error naming its line and column
    (``skip_bad_rows``: a warning, and the row is left out)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        try:
            missing = [k for k in KEY_FIELDS + ("value",) if k not in (reader.fieldnames or [])]
            if missing:
                raise BadInput(f"{path}: not a vhq leaderboard (no column {', '.join(missing)})", "choose another --leaderboard file")
            rows = []
            for r in reader:
                problem = row_problem(r)
                if problem is None:
                    rows.append({k: v for k, v in r.items()})
                elif skip_bad_rows:
                    console.warn(f"{path}: line {reader.line_num}: skipped: {problem}")
                else:
                    raise BadInput(f"{path}: line {reader.line_num}: {problem}", "fix or delete the row (vhq leaderboard render --skip-bad-rows leaves it out)")
        except csv.Error as e:
            raise BadInput(f"{path}: line {reader.line_num}: not a readable CSV row ({e})") from None
        except UnicodeDecodeError as e:
            raise BadInput(f"{path}: not UTF-8 text (byte {e.start})") from None
    return rows


def append_leaderboard(path: str | Path, rows: list[dict]) -> Path:
    """Merge ``rows`` into the leaderboard under a lock; rows with the same key are replaced in place."""
    path = Path(path)
    with files.locked(path):
        existing = read_leaderboard(path)
        fields = list(LEADERBOARD_FIELDS) + [k for r in existing for k in r if k not in LEADERBOARD_FIELDS]
        fields = list(dict.fromkeys(fields))
        new = {tuple(r[k] for k in KEY_FIELDS): r for r in rows}
        merged = []
        for r in existing:
            key = tuple(r.get(k, "") for k in KEY_FIELDS)
            merged.append(new.pop(key) if key in new else r)
        merged += list(new.values())
        files.write_csv(path, [{f: r.get(f, "") for f in fields} for r in merged], fields)
    return path


# ---------------------------------------------------------------- distribution-metric rows
# Every protocol parameter goes into ``params`` (JSON, part of the leaderboard key, so an FVD under
# StyleGAN-V semantics and one under DIGAN semantics never overwrite each other); counts and
# warnings that are results rather than settings go into ``details``.

PARAM_FIELDS = (
    "frames", "stride", "clip_real", "clip_pred", "max_videos", "clips_per_trial", "first_frames", "resize",
    "size", "value_path", "cov", "fd_method", "kvd_mode", "acd_pairs", "seed", "feature_dim", "clip_resolution", "resample_to",
)
DETAIL_FIELDS = ("n_real", "clips_real", "real_stats", "real_stats_file", "real_stats_sha256", "warning")


def _clean(v):
    return "" if v is None else v


def to_summary(row: dict) -> dict:
    """One distribution row in the long-form summary/leaderboard schema (model/test set added later)."""
    params = {k: _clean(row.get(k)) for k in PARAM_FIELDS if _clean(row.get(k)) != ""}
    details = {k: _clean(row.get(k)) for k in DETAIL_FIELDS if _clean(row.get(k)) != ""}
    weighting = catalog.by_column(row["metric"]).weighting_under(row["protocol"])
    return {
        "metric": row["metric"],
        "value": row["value"],
        # a set metric has a spread only over trials; a mean over videos always has one
        "value_std": row.get("std", "") if int(row.get("trials") or 1) > 1 or weighting == "video" else "",
        "trials": row.get("trials") or 1,
        "higher_is_better": row["higher_is_better"],
        "protocol": row["protocol"],
        "weighting": weighting,
        "params": json.dumps(params, sort_keys=True),
        "n_videos": row.get("n_pred", ""),
        "n_samples": row.get("clips_pred", ""),
        "backbone": row.get("backbone", ""),
        "weight": row.get("weight", ""),
        "weight_sha256": row.get("weight_sha256", ""),
        "weight_verified": row.get("weight_verified", ""),
        "weight_state": row.get("weight_state", ""),
        "details": json.dumps(details, sort_keys=True),
    }


def set_fingerprint(root) -> str:
    """Hash of a real/test set's keys and content digests (names the set exactly, unpaired)."""
    parts = []
    for key, path in sorted(video.list_videos(root).items()):
        parts += [key, cache.file_digest(path)]
    return files.sha256_strings(parts)


# ---------------------------------------------------------------- printed summaries


def summary_line(row: dict, style: str) -> str:
    """One leaderboard row as a command prints it: ``paired`` and ``set`` for `vhq eval`, ``bench`` for `vhq bench`."""
    verified = row["weight_verified"] in ("True", "")
    std = f" ± {float(row['value_std']):.4g}" if row.get("value_std") else ""
    if style == "bench":
        value = f"{float(row['value']):.6g}" if row["value"] else "n/a"
        flag = "" if verified else f"  (weights {row.get('weight_state') or 'unverified'})"
        return f"  {row['metric']:<16} {value:>14}{std}  {row['protocol']}, {row['weighting']}-weighted, {row['n_videos']} videos{flag}"
    flag = "" if verified else "  (unverified weights)"
    if style == "paired":
        return f"  {row['metric']:<16} {row['value'] or 'n/a':>22}  {row['weighting']}-weighted{flag}"
    return f"  {row['metric']:<16} {float(row['value']):>22.6g}{std}  {row['protocol']}, N={row['n_videos']}{flag}"


def echo_summary(rows: Iterable[dict], style: str) -> None:
    for r in rows:
        console.echo(summary_line(r, style))
