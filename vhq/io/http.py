"""HTTP downloads that resume and never leave a partial or unverified file under the final name.

``download(url, dest, sha256)`` streams into ``<dest>.incomplete``; after an interruption the next
call asks the server for the rest (HTTP Range) and starts over only when the server ignores the
range. The complete file is hashed and checked before ``os.replace`` moves it into place; a file
that does not match is deleted, as resuming it could never verify. ``fetch`` is the resumable
transfer alone, for callers that check the file themselves (the weights registry).

Failures a later run may fix are ``NetworkError`` naming the URL (HTTP status, connection error,
connection closed early); a URL that cannot be downloaded at all is ``BadInput``.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from vhq.errors import BadInput, NetworkError, OutputError
from vhq.io import files

USER_AGENT = "vhq"
TIMEOUT = 60.0  # seconds without data before a download fails

Progress = Callable[[int, "int | None"], None]  # (bytes so far, total bytes or None)


class Mismatch(NetworkError):
    """The downloaded file is not the expected one (its sha256 differs)."""


def partial_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".incomplete")


def _open(url: str, have: int, timeout: float):
    if urllib.parse.urlsplit(url).scheme not in ("http", "https", "file"):
        raise BadInput(f"{url}: not a URL vhq can download", "pass an http:// or https:// URL")
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing after `have`: the partial file is complete
            return None
        raise NetworkError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise NetworkError(f"{url}: cannot download ({getattr(e, 'reason', e)})") from None


def fetch(url: str, partial: Path, timeout: float = TIMEOUT, progress: Progress | None = None) -> None:
    """Append ``url``'s bytes to ``partial`` from where it stopped; restart if the server ignores Range."""
    partial = Path(partial)
    have = partial.stat().st_size if partial.exists() else 0
    resp = _open(url, have, timeout)
    if resp is None:
        return
    partial.parent.mkdir(parents=True, exist_ok=True)
    with resp:
        if have and resp.status != 206:
            have = 0
        length = resp.headers.get("Content-Length")
        total = int(length) + have if length else None
        done = have
        with open(partial, "ab" if have else "wb") as out:
            while True:
                try:
                    chunk = resp.read(files.CHUNK)
                except (http.client.HTTPException, OSError) as e:
                    raise NetworkError(f"{url}: connection lost after {done} bytes ({e})") from None
                if not chunk:
                    break
                try:
                    out.write(chunk)
                    out.flush()
                except OSError as e:  # a full disk or a size limit: what arrived so far is kept for a resume
                    raise OutputError(f"{partial}: cannot write the download after {done} bytes ({e.strerror or e})",
                                      "free some space (or raise ulimit -f) and re-run: the download resumes") from None
                done += len(chunk)
                if progress:
                    progress(done, total)
    if total is not None and done < total:
        raise NetworkError(f"{url}: connection closed after {done} of {total} bytes")


def download(url: str, dest: str | os.PathLike, sha256: str | None = None, timeout: float = TIMEOUT,
             progress: Progress | None = None) -> str:
    """``url`` → ``dest`` through ``<dest>.incomplete`` (resumed), checked against ``sha256`` before it
    is moved into place; returns the file's sha256. Raises ``Mismatch`` when the hash differs."""
    dest = Path(dest)
    partial = partial_path(dest)
    with files.locked(dest):
        fetch(url, partial, timeout, progress)
        got = files.sha256_file(partial)
        if sha256 is not None and got != sha256:
            files.remove(partial)
            raise Mismatch(f"{url}: sha256 {got} does not match the expected {sha256}",
                           "the file changed upstream or the download was intercepted")
        os.replace(partial, dest)
    return got
