"""One run per shard: ``OUT/download[.K-of-N].lease`` names the run that holds it (host, pid, start).

A second run on the same shard is refused with the holder's name while the holder lives. A lease
is stale, and taken over, when its process is gone (same host) or when it has not been refreshed
for ``stale_after`` seconds (another host: the holder touches the file every minute).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

from vhq.errors import BadInput
from vhq.io import files

REFRESH_S = 60.0


def lease_path(out: Path, shard) -> Path:
    tag = f".{shard.index}-of-{shard.count}" if shard.count > 1 else ""
    return Path(out) / f"download{tag}.lease"


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
    def __init__(self, path: Path, stale_after: float):
        self.path = path
        self.stale_after = stale_after
        self.me = {"host": socket.gethostname(), "pid": os.getpid(), "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
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
        with files.locked(self.path):
            holder = _read(self.path)
            if holder is not None and not self._stale(holder) and holder.get("pid") != self.me["pid"]:
                raise BadInput(
                    f"{self.path}: this shard is being downloaded by pid {holder['pid']} on {holder['host']} since {holder.get('start', '?')}",
                    "wait for that run to end, or give each machine its own --shard")
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

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
