"""What a failed download means: yt-dlp's messages → a status, final or retryable.

A *final* status is a fact about the video (removed, private, too small…): re-runs skip it. A
*retryable* status is a fact about this run (rate limit, network, a bug): re-runs try again and the
exit code says something is left to do. The table is matched top to bottom on the lower-cased
message, so more specific texts come first (the bot check before the age check, which both start
with "Sign in to confirm").
"""

from __future__ import annotations

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

HINTS = {
    "rate-limited": "YouTube limits guests to roughly 300 videos an hour; re-run later, raise --sleep, or pass --cookies",
    "bot-check": "this IP is flagged; re-run later, or pass --cookies from a logged-in browser or a --proxy",
    "forbidden": "often a missing PO token or a blocked IP; update yt-dlp, or pass --cookies / --proxy",
    "js-runtime": "yt-dlp needs its JavaScript solver: pip install 'yt-dlp[default]' deno",
    "age-restricted": "cookies of an age-verified account may help: --cookies FILE --retry-status age-restricted",
    "members-only": "only channel members can see it",
}


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
