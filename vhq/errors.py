"""Errors a user can act on.

Every exception here carries a one-line message and an optional hint; ``cli.main`` prints them as
``error: …`` / ``hint: …`` and exits 1 instead of showing a traceback (``VHQ_DEBUG=1`` shows it).
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class VhqError(Exception):
    """Base class: a failure the user can fix (bad input, missing weights, unreachable server)."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class BadInput(VhqError):
    """A file or argument the user gave is malformed; the message names it and what is wrong."""


class UsageError(BadInput):
    """The command line itself is wrong (an unknown name, an empty list): exit code 2, like a usage error."""

    exit_code = 2


class MediaError(BadInput):
    """A video or frame folder cannot be probed or decoded (corrupt, truncated, not a video)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint or "check the file with `ffprobe FILE` (or open the frames); re-create or re-download it")


class OutputError(VhqError):
    """An output path cannot be written: no permission, the wrong kind of entry, no space, a size limit."""


class Busy(VhqError):
    """Another live process is writing the same output; the message names it."""


class MissingWeights(VhqError):
    """A pretrained network is not in the cache (or fails verification)."""


class NetworkError(VhqError):
    """A download failed for a reason a later re-run may fix."""
