"""Atomic writes and content hashing.

Every file vhq produces is written to a temporary name in the destination folder and moved into
place with ``os.replace`` only once it is complete, so a crash never leaves a half-written file
under a final name.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

from vhq.errors import BadInput, OutputError

CHUNK = 1 << 20
# Python's csv module refuses fields over 128 KiB; a leaderboard's details or a manifest can be
# larger in legitimate use, and a hostile one must end in a one-line error, not a traceback.
CSV_FIELD_LIMIT = 64 << 20
csv.field_size_limit(CSV_FIELD_LIMIT)


def temp_path_for(dest: Path, suffix: str = "") -> Path:
    """A unique, not-yet-existing temporary path next to ``dest`` (same filesystem)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".part{suffix}", dir=dest.parent)
    os.close(fd)
    os.unlink(name)
    return Path(name)


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``dest``, on error it is removed.

    ``suffix`` defaults to the destination's own suffix so tools that infer the format from the
    extension (ffmpeg, PIL) still work on the temporary name.
    """
    dest = Path(dest)
    tmp = temp_path_for(dest, dest.suffix if suffix is None else suffix)
    try:
        yield tmp
        if tmp.is_dir():
            replace_dir(tmp, dest)
        else:
            os.replace(tmp, dest)
    except BaseException:
        remove(tmp)
        raise


def replace_dir(src: Path, dest: Path) -> None:
    """Move directory ``src`` to ``dest``, replacing an existing ``dest`` with minimal exposure."""
    if dest.exists():
        trash = temp_path_for(dest, ".old")
        os.replace(dest, trash)
        os.replace(src, dest)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(src, dest)


@contextlib.contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``<path>.lock`` (across processes on this machine) while inside."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def write_bytes(dest: str | os.PathLike, data: bytes) -> Path:
    try:
        with atomic_path(dest) as tmp:
            tmp.write_bytes(data)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise OutputError(f"{dest}: cannot write ({e.strerror})", "free some space (or raise ulimit -f) and re-run") from None
        raise
    return Path(dest)


def write_text(dest: str | os.PathLike, text: str) -> Path:
    return write_bytes(dest, text.encode("utf-8"))


def write_json(dest: str | os.PathLike, obj) -> Path:
    return write_text(dest, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_csv(dest: str | os.PathLike, rows: Iterable[Mapping], fieldnames: Sequence[str]) -> Path:
    """Write dict rows as CSV atomically (``\\n`` line ends, missing fields left empty)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fieldnames), lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return write_text(dest, buf.getvalue())


def read_csv(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts; a byte-order mark is ignored; a malformed file is a ``BadInput``
    naming the file and line."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        try:
            return list(reader)
        except csv.Error as e:
            raise BadInput(f"{path}: line {reader.line_num}: not a readable CSV row ({e})") from None
        except UnicodeDecodeError as e:
            raise BadInput(f"{path}: not UTF-8 text (byte {e.start})") from None


def check_writable(path: str | os.PathLike, folder: bool = False) -> Path:
    """Fail now, before any work, when ``path`` cannot be written as a file (or as a folder).

    Probes by creating and removing a temporary file in the nearest existing folder: permission
    bits alone say nothing for root or on a read-only mount. Creates nothing that stays.
    """
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder", "give a folder path for this output")
    if not folder and path.is_dir():
        raise OutputError(f"{path}: is a folder; this output is a file", "give a file name")
    parent = path if folder else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: {parent} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".vhq-write-check.", dir=parent)
    except OSError as e:
        raise OutputError(f"{path}: cannot write in {parent} ({e.strerror})") from None
    os.close(fd)
    os.unlink(probe)
    return path


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def git_blob_sha1(path: str | os.PathLike) -> str:
    """The id ``git hash-object`` gives a file (some weights are only known by it)."""
    size = os.path.getsize(path)
    h = hashlib.sha1(f"blob {size}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_strings(parts: Iterable[str]) -> str:
    """A stable hash of a sequence of strings (each terminated, so boundaries matter)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()
