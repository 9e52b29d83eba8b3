"""One writer per output: a lease file that names the run holding it (host, pid, start).

A second run on the same output is refused with the holder's name while the holder lives. A lease
is stale, and taken over, when its process is gone (same host) or when it has not been refreshed
for ``stale_after`` seconds (another host sharing the folder: the holder touches the file every
``REFRESH_S`` seconds). Two writers in one process are refused too.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from vhq.errors import Busy
from vhq.io import files

REFRESH_S = 60.0
STALE_AFTER_S = 600.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> dict | None:
    try:
        holder = json.loads(path.read_text())
        return holder if isinstance(holder, dict) else {}
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # torn or foreign: stale


class Lease:
    """``with Lease(path, "this shard is being downloaded"):`` — or ``acquire()`` / ``release()``."""

    def __init__(self, path: Path, what: str = "this output is being written", stale_after: float = STALE_AFTER_S,
                 hint: str = "wait for that run to end or stop it; a killed run's lease is taken over", names: Path | None = None):
        self.path = Path(path)
        self.names = Path(names) if names is not None else self.path  # what the refusal names: the output, or the lease file
        self.what = what
        self.hint = hint
        self.stale_after = stale_after
        self.me = {"host": socket.gethostname(), "pid": os.getpid(), "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "id": f"{id(self):x}"}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _stale(self, holder: dict) -> bool:
        if not holder.get("host") or not isinstance(holder.get("pid"), int):
            return True
        if holder["host"] == self.me["host"]:
            return not _alive(holder["pid"])
        try:
            return time.time() - self.path.stat().st_mtime > self.stale_after
        except FileNotFoundError:
            return True

    def acquire(self) -> Lease:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with files.locked(self.path):
            holder = _read(self.path)
            if holder is not None and holder != self.me and not self._stale(holder):
                raise Busy(f"{self.names}: {self.what} by pid {holder['pid']} on {holder['host']} since {holder.get('start', '?')}", self.hint)
            files.write_json(self.path, self.me)
        self._thread = threading.Thread(target=self._refresh, name="vhq-lease", daemon=True)
        self._thread.start()
        return self

    def _refresh(self) -> None:
        while not self._stop.wait(REFRESH_S):
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        self._stop.set()
        with files.locked(self.path):
            if _read(self.path) == self.me:
                self.path.unlink(missing_ok=True)

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def lease_file(output: str | os.PathLike, folder: bool) -> Path:
    """Where the lease of an output lives: ``<folder>/.vhq-writer.lease`` or ``<file>.lease``."""
    output = Path(output)
    return output / ".vhq-writer.lease" if folder else output.with_name(output.name + ".lease")


@contextlib.contextmanager
def exclusive_writer(output: str | os.PathLike, folder: bool, what: str = "output", hint: str | None = None) -> Iterator[Path]:
    """Be the only run writing ``output`` (a folder or a file) while inside, or raise ``Busy`` naming the holder."""
    output = Path(output)
    created = folder and not output.exists()
    lease = Lease(lease_file(output, folder), f"{what} is being written", names=output, **({"hint": hint} if hint else {}))
    try:
        with lease:
            yield lease.path
    finally:
        if created:
            _remove_if_only_the_lease(output, lease.path)


def _remove_if_only_the_lease(folder: Path, path: Path) -> None:
    """A folder made only to hold the lease of a run that wrote nothing is removed with it."""
    leftovers = {path.name, path.name + ".lock"}
    try:
        if set(os.listdir(folder)) <= leftovers:
            for name in leftovers:
                (folder / name).unlink(missing_ok=True)
            folder.rmdir()
    except OSError:
        pass
