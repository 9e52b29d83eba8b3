"""What ``vhq download`` is asked to do: its options with their defaults.

Light to import (no yt-dlp, torch or PyAV): ``vhq --help`` shows these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

YOUTUBE_URL = "https://www.youtube.com/watch?v={video_id}"


@dataclass
class Options:
    out: Path
    min_height: int = 1080
    prefer_best: bool = False
    full: bool = False
    pad: float = 2.0
    crf: int = 16
    workers: int = 2
    sleep: float = 5.0
    sleep_requests: float = 0.75
    backoff: float = 3600.0
    attempts: int = 3
    cookies: str | None = None
    proxy: str | None = None
    url_template: str = YOUTUBE_URL
    socket_timeout: float = 30.0
    retry_status: tuple[str, ...] = ()
