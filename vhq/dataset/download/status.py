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

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from vhq.errors import BadInput
from vhq.io import tables

NAME = "download_status"
STATUS_FILE = NAME + ".csv"
FIELDS = ("video_id", "status", "reason", "height", "width", "fps", "format", "file", "sections", "yt_dlp_version", "updated",
          # what the probe saw: the best height that qualifies by kind (AI-upscaled formats never do), whether
          # YouTube offered an upscaled variant, yt-dlp's warnings, the player clients it asked, the options passed
          "max_height", "upscaled", "warnings", "clients", "ytdlp_options", "versions", "vhq_version",
          # provenance: each file's sha256 and size (same order as ``file``), YouTube's lmt/clen of the format
          "file_sha256", "file_bytes", "lmt", "clen")


@dataclass(frozen=True)
class Section:
    file: Path
    start: float
    end: float

    def contains(self, t0: float, t1: float) -> bool:
        return self.start <= t0 + 1e-6 and t1 <= self.end + 1e-6


def format_sections(sections: list[tuple[float, float]]) -> str:
    return ";".join(f"{a:.3f}-{b:.3f}" for a, b in sections)


def parse_span(span: str) -> tuple[float, float] | None:
    """``"12.000-15.500"`` → (12.0, 15.5); ``None`` when it is not START-END seconds with START <= END."""
    a, sep, b = span.partition("-")
    try:
        start, end = float(a), float(b)
    except ValueError:
        return None
    return (start, end) if sep and start <= end else None


def sections(row: dict, out_dir: str | os.PathLike) -> list[Section]:
    """The files of an ``ok`` row with the source span each one holds."""
    names = [f for f in (row.get("file") or "").split(";") if f]
    spans = [s for s in (row.get("sections") or "").split(";") if s]
    if len(names) != len(spans):
        raise BadInput(f"{out_dir}/{STATUS_FILE}: row {row.get('video_id')} lists {len(names)} files but {len(spans)} sections")
    out = []
    for name, span in zip(names, spans):
        parsed = parse_span(span)
        if parsed is None:
            raise BadInput(f"{out_dir}/{STATUS_FILE}: row {row.get('video_id')} has section {span!r}, not START-END seconds",
                           "fix or delete that row (vhq download fetches the video again)")
        out.append(Section(Path(out_dir) / name, *parsed))
    return out


def _check_table(path: Path) -> None:
    """One clear error naming the file and line for a table a later stage cannot use."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                return
            missing = [c for c in ("video_id", "status") if c not in header]
            if missing:
                raise BadInput(f"{path} line 1: not a download status table (no column {', '.join(missing)})", "delete it to start over")
            col = {c: i for i, c in enumerate(header)}
            for row in reader:
                line = reader.line_num
                if not any(row):
                    continue
                if len(row) != len(header):
                    raise _bad_row(path, line, f"has {len(row)} fields, the header has {len(header)}")
                status = row[col["status"]]
                if status not in FINAL + RETRYABLE:
                    raise _bad_row(path, line, f"status {status!r} is not a download status")
                if "sections" in col:
                    for span in filter(None, row[col["sections"]].split(";")):
                        if parse_span(span) is None:
                            raise _bad_row(path, line, f"section {span!r} is not START-END in seconds")
                if status == OK and "file" in col and "sections" in col:
                    n_files = len([x for x in row[col["file"]].split(";") if x])
                    n_spans = len([x for x in row[col["sections"]].split(";") if x])
                    if n_files != n_spans:
                        raise _bad_row(path, line, f"lists {n_files} files but {n_spans} sections")
    except (UnicodeDecodeError, csv.Error) as e:
        raise BadInput(f"{path}: unreadable status table ({e})", "delete it to start over") from None


def _bad_row(path: Path, line: int, what: str) -> BadInput:
    return BadInput(f"{path} line {line}: {what}", "fix or delete that row: `vhq download` probes that video again")


def read(out_dir: str | os.PathLike) -> dict[str, dict]:
    """Every status table in ``out_dir`` merged: video id → newest row (a malformed row raises ``BadInput`` naming its line)."""
    folder = Path(out_dir)
    if folder.is_dir():
        for path in sorted(folder.glob(f"{NAME}*.csv")):
            _check_table(path)
    return tables.read(out_dir, NAME, "video_id", FIELDS)


def open_table(out_dir: str | os.PathLike, shard, rows: dict[str, dict]) -> tables.Table:
    """The table this run writes, rewritten after every video (a killed run loses at most the videos in flight)."""
    return tables.Table(tables.table_path(out_dir, NAME, shard), "video_id", FIELDS, rows)


# ---------------------------------------------------------------- statuses

OK = "ok"
BELOW_MIN_HEIGHT = "below-min-height"
BOT_CHECK = "bot-check"
RATE_LIMITED = "rate-limited"
# The probe decided "too small" while yt-dlp said it skipped formats (SABR, a missing PO token, an
# unsolved JS challenge, only format 18): the answer of this session, not a fact about the video.
DEGRADED_PROBE = "degraded-probe"
# A section file shorter than the span asked for (a dropped connection): removed, never counted.
SHORT_SECTION = "short-section"

FINAL = ("ok", "below-min-height", "unavailable", "private", "age-restricted", "members-only", "geo-blocked")
RETRYABLE = ("rate-limited", "bot-check", "degraded-probe", "short-section", "forbidden", "js-runtime", "no-formats", "network", "unexpected")
# "This IP is being throttled": the whole worker pool pauses before going on. A bot check does not
# pause (waiting does not lift it); bot checks in a row end the run instead.
PAUSING = ("rate-limited",)

ERROR_TABLE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("rate-limited", (
        "try again later",
        "rate-limited",
        "rate limited",
        "http error 429",
        "too many requests",
    )),
    ("bot-check", (
        "requiring a captcha",
        "your ip is likely being blocked",
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
