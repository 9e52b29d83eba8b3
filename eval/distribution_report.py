"""Distribution-metric summary rows (``eval.distribution.SUMMARY_FIELDS``) → leaderboard rows.

Every protocol parameter goes into ``params`` (JSON, part of the leaderboard key, so an FVD under
StyleGAN-V semantics and one under DIGAN semantics never overwrite each other); counts and
warnings that are results rather than settings go into ``details``.
"""

from __future__ import annotations

import json

from vhq import cache, files, video

PARAM_FIELDS = (
    "frames", "stride", "clip_real", "clip_pred", "max_videos", "clips_per_trial", "first_frames", "resize",
    "size", "value_path", "cov", "fd_method", "kvd_mode", "acd_pairs", "seed", "feature_dim",
)
DETAIL_FIELDS = ("n_real", "clips_real", "real_stats", "warning")


def _clean(v):
    return "" if v is None else v


def to_summary(row: dict) -> dict:
    """One distribution row in the long-form summary/leaderboard schema (model/test set added later)."""
    params = {k: _clean(row.get(k)) for k in PARAM_FIELDS if _clean(row.get(k)) != ""}
    details = {k: _clean(row.get(k)) for k in DETAIL_FIELDS if _clean(row.get(k)) != ""}
    return {
        "metric": row["metric"],
        "value": row["value"],
        "value_std": row.get("std", "") if int(row.get("trials") or 1) > 1 or row["metric"] in ("acd", "csim") else "",
        "trials": row.get("trials") or 1,
        "higher_is_better": row["higher_is_better"],
        "protocol": row["protocol"],
        "weighting": "set" if row["metric"] in ("fvd_i3d", "kvd", "fid_r3dx101") else "video",
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
