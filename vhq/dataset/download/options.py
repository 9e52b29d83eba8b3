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
    crf: int = 0  # 0: lossless sections (crop's encode is the only lossy one)
    workers: int = 2
    sleep: float = 5.0
    sleep_requests: float = 0.75
    backoff: float = 3600.0
    attempts: int = 3
    cookies: str | None = None
    proxy: str | None = None
    url_template: str = YOUTUBE_URL
    socket_timeout: float = 30.0
    retry_status: tuple[str, ...] = ()  # final statuses probed again (--recheck)
    extractor_args: tuple[str, ...] = ()  # yt-dlp's --extractor-args texts, e.g. "youtube:player_client=mweb"
    ytdlp_opts: tuple[str, ...] = ()  # KEY=JSON YoutubeDL options
    max_bot_checks: int = 3  # consecutive bot checks on different videos that end the run
    skip_known: Path | None = None  # an `export-status` table from another run
    verbose: bool = False
    lease_stale_s: float = 600.0  # a lease not refreshed for this long belongs to a dead run
