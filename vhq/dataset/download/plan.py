"""Pure decisions of ``vhq download``: which of a video's formats to take, and which time ranges.

Works on yt-dlp's info dict and the manifest's clips only (no network, no files), so every rule
here is tested without a server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vhq.dataset.manifest import Clip

CODEC_RANK = {"avc1": 0, "h264": 0, "vp9": 1, "vp09": 1, "av01": 2}


def is_upscaled(f: dict) -> bool:
    """YouTube's AI-upscaled variant of a low-resolution upload (yt-dlp: format id ``…-sr``, note "AI-upscaled")."""
    return str(f.get("format_id") or "").endswith("-sr") or "ai-upscaled" in str(f.get("format_note") or "").lower()


def video_formats(info: dict, upscaled: bool = False) -> list[dict]:
    """Formats that carry video with a known height: the real ones, or (``upscaled``) only the AI-upscaled ones."""
    out = []
    for f in info.get("formats") or [info]:
        if f.get("vcodec") == "none" or not f.get("height") or is_upscaled(f) != upscaled:
            continue
        out.append(f)
    return out


def only_format_18(info: dict) -> bool:
    """YouTube offered nothing but its 360p muxed fallback (what a session without a PO token often gets)."""
    ids = {str(f.get("format_id")) for f in video_formats(info)}
    return ids == {"18"}


def _codec_rank(f: dict) -> int:
    codec = (f.get("vcodec") or "").split(".")[0].lower()
    return CODEC_RANK.get(codec, 3)


def choose_format(info: dict, min_height: int, prefer_best: bool = False) -> tuple[dict | None, dict | None]:
    """(chosen format or None, best video format or None).

    AI-upscaled formats are never chosen nor counted as the best. Default: the smallest height >= ``min_height``; among equal heights video-only first, then
    H.264 (fast to decode, muxes into mp4), then higher fps and bitrate. ``prefer_best``: the
    largest height first.
    """
    fmts = video_formats(info)
    if not fmts:
        return None, None
    best = max(fmts, key=lambda f: (f["height"], f.get("width") or 0, f.get("fps") or 0, f.get("tbr") or 0))
    ok = [f for f in fmts if f["height"] >= min_height]
    if not ok:
        return None, best

    def key(f):
        video_only = 0 if f.get("acodec") in ("none", None) else 1
        h = -f["height"] if prefer_best else f["height"]
        return (h, video_only, _codec_rank(f), -(f.get("fps") or 0), -(f.get("tbr") or 0))

    return min(ok, key=key), best


def plan_sections(clips: list[Clip], pad: float, fps: float, duration: float | None) -> list[tuple[float, float]]:
    """Padded clip spans, merged where they touch, starts snapped to a frame of a ``fps`` source."""
    spans = sorted((max(0.0, c.start_s - pad), c.end_s + pad) for c in clips)
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out = []
    for a, b in merged:
        if duration:
            b = min(b, duration)
        a = math.floor(a * fps + 1e-6) / fps
        if b > a:
            out.append((round(a, 6), round(b, 6)))
    return out


def section_name(video_id: str, start: float, end: float) -> str:
    return f"{video_id}.{int(round(start * 1000)):09d}-{int(round(end * 1000)):09d}"


@dataclass(frozen=True)
class Estimate:
    videos: int
    clips: int
    sections: int
    hours: float
    fetched_gb: float
    written_gb: float


# Assumed bitrates (not measured here): YouTube's 1080p H.264 of a talking head, and a lossless
# x264 intermediate of the same picture (about ten times larger).
FETCH_MBITS = 4.0
LOSSLESS_MBITS = 40.0


def estimate(by_video: dict[str, list[Clip]], pad: float, lossless: bool = True) -> Estimate:
    """What ``vhq download`` would fetch and write at 1080p for these videos (sections padded by ``pad``)."""
    seconds, sections = 0.0, 0
    for clips in by_video.values():
        spans = plan_sections(clips, pad, clips[0].fps, None)
        sections += len(spans)
        seconds += sum(b - a for a, b in spans)
    fetched = seconds * FETCH_MBITS / 8 / 1000
    written = seconds * (LOSSLESS_MBITS if lossless else FETCH_MBITS) / 8 / 1000
    return Estimate(len(by_video), sum(len(c) for c in by_video.values()), sections, seconds / 3600, fetched, written)
