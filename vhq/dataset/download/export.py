"""Availability snapshots: ``vhq download export-status`` and ``--skip-known``.

The exported table is safe to share between labs: per video its status, the best height that
qualifies, whether YouTube offered an AI-upscaled variant, the date it was checked and the vhq and
yt-dlp versions that checked it; no local paths, no reasons (they may quote cookies or proxies).
"""

from __future__ import annotations

import os
from pathlib import Path

from vhq.dataset.download import status as download_status
from vhq.errors import BadInput
from vhq.io import files

FIELDS = ("video_id", "status", "max_height", "upscaled", "checked", "vhq_version", "yt_dlp_version")
# Answers that hold for every lab: the video is gone for everyone.
GONE = ("unavailable", "private")


def export(videos: str | os.PathLike, dest: str | os.PathLike) -> tuple[Path, dict[str, int]]:
    rows = download_status.read(videos)
    if not rows:
        raise BadInput(f"{videos}: no download_status.csv", "pass the `vhq download --out` folder")
    out, counts = [], {}
    for vid in sorted(rows):
        r = rows[vid]
        if not download_status.is_final(r["status"]):
            continue  # a temporary state of this run says nothing about the video
        max_height = r.get("max_height") or (r.get("height") if r["status"] in (download_status.OK, download_status.BELOW_MIN_HEIGHT) else "")
        out.append({"video_id": vid, "status": r["status"], "max_height": max_height or "", "upscaled": r.get("upscaled") or "",
                    "checked": (r.get("updated") or "")[:10], "vhq_version": r.get("vhq_version") or "",
                    "yt_dlp_version": r.get("yt_dlp_version") or ""})
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return files.write_csv(dest, out, FIELDS), counts


def read_known(path: str | os.PathLike) -> dict[str, dict]:
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"--skip-known {p}: no such file", "make one with `vhq download export-status`")
    try:
        rows = files.read_csv(p)
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"--skip-known {p}: unreadable ({e})") from None
    if rows and not {"video_id", "status"} <= set(rows[0]):
        raise BadInput(f"--skip-known {p} line 1: not an export-status table (needs video_id and status)")
    for line, r in enumerate(rows, start=2):
        if r.get("status") not in download_status.FINAL:
            raise BadInput(f"--skip-known {p} line {line}: status {r.get('status')!r} is not a final download status")
    return {r["video_id"]: r for r in rows}


def known_row(row: dict, min_height: int, source: Path) -> dict | None:
    """The status row to record instead of probing, or None when the snapshot does not settle it here."""
    status, height = row["status"], row.get("max_height") or ""
    too_small = status == download_status.BELOW_MIN_HEIGHT and height.isdigit() and int(height) < min_height
    if status not in GONE and not too_small:
        return None
    why = f"known from {source.name}: {status} on {row.get('checked') or '?'} (yt-dlp {row.get('yt_dlp_version') or '?'})"
    return {"video_id": row["video_id"], "status": status, "reason": why, "max_height": height, "upscaled": row.get("upscaled") or "",
            "yt_dlp_version": row.get("yt_dlp_version") or ""}
