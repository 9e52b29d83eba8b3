"""Status tables: one CSV row per item, the record a stage keeps and later stages read.

A run writes ``<folder>/<name>.csv``; over ``--shard K/N`` it writes ``<name>.K-of-N.csv``, and a
rank of a distributed run adds ``.rank<R>``, so machines and processes sharing a folder never
write the same file: one writer per file, held by a lock while the run writes. ``read`` merges
every ``<name>*.csv`` (and journal) in the folder, the newest row per key winning.

Every row is first appended to a journal (``<table>.journal``, one JSON object per line, synced
to disk) so a killed run loses nothing; the CSV is rewritten atomically (temporary file, then
``os.replace``) every ``interval`` seconds (0: after every row) and on ``close``, which removes
the journal.

``updated`` is the time a row was recorded, in UTC: ``2026-12-02T02:31:05.123456Z`` (to the
microsecond, so rows written within one second still order). Tables written by earlier versions
are read too: a stamp with an offset (``+00:00``) is converted, one without a zone
(``2026-01-01T00:00:00``) is taken as this machine's local time, and an unreadable stamp is older
than any readable one.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

from vhq.errors import BadInput
from vhq.io import files, lease

UPDATED = "updated"
STAMP = "%Y-%m-%dT%H:%M:%S.%fZ"


def now() -> str:
    """The current time as an ``updated`` stamp."""
    return _dt.datetime.now(_dt.timezone.utc).strftime(STAMP)


def stamp_time(text: str | None) -> float:
    """Seconds since the epoch of an ``updated`` stamp in any format vhq has written; -inf when unreadable."""
    try:
        t = _dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return float("-inf")
    return t.timestamp()  # a stamp without a zone is local time


def table_path(folder: str | os.PathLike, name: str, shard=None, rank: int = 0, world_size: int = 1) -> Path:
    """``<name>.csv``, ``<name>.K-of-N.csv`` for a shard, plus ``.rank<R>`` under a distributed run."""
    parts = [name]
    if shard is not None and shard.count > 1:
        parts.append(f"{shard.index}-of-{shard.count}")
    if world_size > 1:
        parts.append(f"rank{rank}")
    return Path(folder) / (".".join(parts) + ".csv")


def journal_path(table: Path) -> Path:
    return table.with_suffix(".journal")


def _newer(row: Mapping, old: Mapping | None) -> bool:
    return old is None or stamp_time(row.get(UPDATED)) >= stamp_time(old.get(UPDATED))


def _read_csv(path: Path) -> list[dict]:
    try:
        return files.read_csv(path)
    except BadInput as e:
        raise BadInput(f"unreadable status table: {e.message}", "fix or delete it; deleting loses its rows") from None
    except OSError as e:
        raise BadInput(f"{path}: unreadable status table ({e.strerror or e})", "fix or delete it; deleting loses its rows") from None


def _read_journal(path: Path, fields: Sequence[str]) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line torn by a kill
            if isinstance(row, dict):
                rows.append({k: "" if row.get(k) is None else str(row[k]) for k in fields})
    return rows


def _merge(merged: dict[str, dict], rows: list[dict], key: str) -> None:
    for row in rows:
        k = row.get(key)
        if k and _newer(row, merged.get(k)):
            merged[k] = row


def read(folder: str | os.PathLike, name: str, key: str, fields: Sequence[str]) -> dict[str, dict]:
    """Every ``name`` table and journal in ``folder`` merged: key → newest row (later files win ties)."""
    out = Path(folder)
    merged: dict[str, dict] = {}
    if not out.is_dir():
        return merged
    for table in sorted(out.glob(f"{name}*.csv")):
        _merge(merged, _read_csv(table), key)
    for journal in sorted(out.glob(f"{name}*.journal")):
        _merge(merged, _read_journal(journal, fields), key)
    return merged


def read_table(path: Path, key: str, fields: Sequence[str]) -> dict[str, dict]:
    """One table and its journal: key → newest row."""
    merged: dict[str, dict] = {}
    if path.is_file():
        _merge(merged, _read_csv(path), key)
    if journal_path(path).is_file():
        _merge(merged, _read_journal(journal_path(path), fields), key)
    return merged


class Table:
    """The table this run writes: ``rows`` from earlier runs plus this run's, journalled per row.

    ``put`` records a row (stamping ``updated``); the CSV is rewritten when ``interval`` seconds
    have passed since the last rewrite and on ``close``. Use it as a context manager.
    """

    def __init__(self, path: Path, key: str, fields: Sequence[str], rows: Mapping[str, dict] | None = None, interval: float = 0.0):
        self.path = Path(path)
        self.key = key
        self.fields = tuple(fields)
        self.rows = dict(rows or {})
        self.interval = interval
        self.journal = journal_path(self.path)
        self._last = float("-inf")
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = contextlib.ExitStack()
        self._writer.enter_context(lease.exclusive_writer(self.path, folder=False, what="this status table",
                                                          hint="wait for that run to end, or give each machine its own --shard K/N"))
        self._jf = open(self.journal, "a", encoding="utf-8")

    def put(self, row: Mapping) -> dict:
        row = {k: "" if row.get(k) is None else row[k] for k in self.fields}
        if UPDATED in self.fields:
            row[UPDATED] = now()
        with self._lock:
            self.rows[row[self.key]] = row
            self._jf.write(json.dumps(row, default=str) + "\n")
            self._jf.flush()
            os.fsync(self._jf.fileno())
            if time.monotonic() - self._last >= self.interval:
                self._flush()
        return row

    def _flush(self) -> None:
        files.write_csv(self.path, (self.rows[k] for k in sorted(self.rows)), self.fields)
        self._last = time.monotonic()

    def close(self) -> None:
        """Write the CSV (when it holds rows) and remove the journal."""
        with self._lock:
            if self._jf.closed:
                return
            if self.rows:
                self._flush()
            self.journal.unlink(missing_ok=True)
            self._jf.close()
            self._writer.close()

    def __enter__(self) -> "Table":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
