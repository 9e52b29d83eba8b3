"""``download_status.csv``: one row per YouTube id, the record later stages read.

``file`` and ``sections`` list the downloaded files (relative to the download folder) and, in the
same order, the span of the source video each one holds: ``START-END`` in seconds, where START is
the *measured* time of the file's first frame on the source timeline, so a clip at source time t
is at ``t - START`` in that file.

A run over a shard (``--shard K/N``) writes ``download_status.K-of-N.csv`` so machines sharing a
folder never overwrite each other's table; ``read`` merges every table in the folder, newest row
per video winning (``vhq.io.tables``).

What a failed download means: yt-dlp's messages → a status, final or retryable.

A *final* status is a fact about the video (removed, private, too small…): re-runs skip it. A
*retryable* status is a fact about this run (rate limit, network, a bug): re-runs try again and the
exit code says something is left to do. The table is matched top to bottom on the lower-cased
message, so more specific texts come first (the bot check before the age check, which both start
with "Sign in to confirm").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vhq.errors import BadInput
from vhq.io import tables

NAME = "download_status"
STATUS_FILE = NAME + ".csv"
FIELDS = ("video_id", "status", "reason", "height", "width", "fps", "format", "file", "sections", "yt_dlp_version", "updated")


@dataclass(frozen=True)
class Section:
    file: Path
    start: float
    end: float

    def contains(self, t0: float, t1: float) -> bool:
        return self.start <= t0 + 1e-6 and t1 <= self.end + 1e-6


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
        try:
            out.append(Section(Path(out_dir) / name, float(a), float(b)))
        except ValueError:
            raise BadInput(f"{out_dir}/{STATUS_FILE}: row {row.get('video_id')} has section {span!r}, not START-END seconds",
                           "fix or delete that row (vhq download fetches the video again)") from None
    return out


def read(out_dir: str | os.PathLike) -> dict[str, dict]:
    """Every status table in ``out_dir`` merged: video id → newest row."""
    return tables.read(out_dir, NAME, "video_id", FIELDS)


def open_table(out_dir: str | os.PathLike, shard, rows: dict[str, dict]) -> tables.Table:
    """The table this run writes, rewritten after every video (a killed run loses at most the videos in flight)."""
    return tables.Table(tables.table_path(out_dir, NAME, shard), "video_id", FIELDS, rows)


# ---------------------------------------------------------------- statuses

OK = "ok"
BELOW_MIN_HEIGHT = "below-min-height"

FINAL = ("ok", "below-min-height", "unavailable", "private", "age-restricted", "members-only", "geo-blocked")
RETRYABLE = ("rate-limited", "bot-check", "forbidden", "js-runtime", "no-formats", "network", "unexpected")
# Statuses that mean "this IP is being throttled": the whole worker pool pauses before going on.
PAUSING = ("rate-limited", "bot-check")

ERROR_TABLE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rate-limited", (
        "try again later",
        "rate-limited",
        "rate limited",
        "http error 429",
        "too many requests",
    )),
    ("bot-check", (
        "confirm you're not a bot",
        "confirm you’re not a bot",
        "confirm you are not a bot",
    )),
    ("private", (
        "private video",
        "this video is private",
    )),
    ("age-restricted", (
        "confirm your age",
        "age-restricted",
        "age restricted",
        "inappropriate for some users",
    )),
    ("members-only", (
        "members-only",
        "members only",
        "join this channel",
    )),
    ("geo-blocked", (
        "not made this video available in your country",
        "not available in your country",
        "geo restricted",
        "geo-restricted",
    )),
    ("unavailable", (
        "video unavailable",
        "has been removed",
        "account associated with this video has been terminated",
        "no longer available",
        "this video is not available",
        "this video does not exist",
        "copyright claim",
        "http error 404",
        "http error 410",
    )),
    ("js-runtime", (
        "only images are available",
        "n challenge solving failed",
        "no supported javascript runtime",
    )),
    ("forbidden", (
        "http error 403",
        "403: forbidden",
    )),
    ("no-formats", (
        "requested format is not available",
        "no video formats found",
    )),
    ("network", (
        "timed out",
        "timeout",
        "connection refused",
        "connection reset",
        "connection aborted",
        "remote end closed connection",
        "temporary failure in name resolution",
        "name or service not known",
        "network is unreachable",
        "unable to download",
        "did not get any data blocks",
        "content too short",
        "incomplete read",
        "http error 500",
        "http error 502",
        "http error 503",
        "http error 504",
        "the downloaded file is empty",
        "unable to connect",
        "ssl",
    )),
)


def classify(message: str) -> str:
    """The status for a yt-dlp error message ("unexpected" when nothing in the table matches)."""
    text = (message or "").lower()
    for status, needles in ERROR_TABLE:
        if any(n in text for n in needles):
            return status
    return "unexpected"


def is_final(status: str) -> bool:
    return status in FINAL


def is_retryable(status: str) -> bool:
    return not is_final(status)
