"""Status tables: shard/rank files, journal, atomic rewrites, newest row wins, old timestamp formats."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time

import pytest

from vhq.errors import BadInput, Busy
from vhq.io import files, tables
from vhq.parallel import Shard

FIELDS = ("key", "status", "updated")


def table(folder, rows, name="t"):
    return files.write_csv(folder / f"{name}.csv", rows, FIELDS)


@pytest.fixture
def timezone(monkeypatch):
    """Set this process's local time zone (stamps without a zone are local time)."""

    def set_tz(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_tz
    monkeypatch.undo()
    time.tzset()


def test_one_file_per_shard_and_rank(tmp_path):
    assert tables.table_path(tmp_path, "t").name == "t.csv"
    assert tables.table_path(tmp_path, "t", Shard(1, 1)).name == "t.csv"
    assert tables.table_path(tmp_path, "t", Shard(2, 4)).name == "t.2-of-4.csv"
    assert tables.table_path(tmp_path, "t", Shard(2, 4), rank=1, world_size=2).name == "t.2-of-4.rank1.csv"
    assert tables.table_path(tmp_path, "t", None, rank=0, world_size=2).name == "t.rank0.csv"


def test_stamps_are_utc_to_the_microsecond():
    stamp = tables.now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp)
    assert abs(tables.stamp_time(stamp) - time.time()) < 5


def test_put_journals_every_row_and_close_leaves_only_the_csv(tmp_path):
    path = tables.table_path(tmp_path, "t")
    t = tables.Table(path, "key", FIELDS, interval=3600)
    t.put({"key": "b", "status": "ok"})  # the first row is written at once
    t.put({"key": "a", "status": "failed", "ignored": "x"})
    journal = [json.loads(line) for line in tables.journal_path(path).read_text().splitlines()]
    assert [r["key"] for r in journal] == ["b", "a"] and "ignored" not in journal[1]
    assert [r["key"] for r in files.read_csv(path)] == ["b"]  # the next rewrite is an hour away
    assert set(tables.read(tmp_path, "t", "key", FIELDS)) == {"a", "b"}  # readers see the journal
    t.close()
    assert not tables.journal_path(path).exists()
    rows = files.read_csv(path)
    assert [r["key"] for r in rows] == ["a", "b"] and all(tables.stamp_time(r["updated"]) > 0 for r in rows)


def test_rewritten_after_every_row_with_interval_zero(tmp_path):
    path = tables.table_path(tmp_path, "t")
    with tables.Table(path, "key", FIELDS) as t:
        for k in "abc":
            t.put({"key": k, "status": "ok"})
            assert files.read_csv(path)[-1]["key"] == k


def test_a_killed_writer_loses_no_complete_row(tmp_path):
    path = tables.table_path(tmp_path, "t", Shard(1, 2))
    t = tables.Table(path, "key", FIELDS, interval=3600)
    t.put({"key": "a", "status": "ok"})
    t.put({"key": "b", "status": "ok"})
    with open(tables.journal_path(path), "a") as f:
        f.write('{"key": "c", "sta')  # torn by the kill
    t._jf.close()  # the process died: its locks go with it
    t._writer.close()
    assert set(tables.read(tmp_path, "t", "key", FIELDS)) == {"a", "b"}
    # the next run over the same shard resumes from the table and its journal
    with tables.Table(path, "key", FIELDS, tables.read_table(path, "key", FIELDS)) as t2:
        t2.put({"key": "c", "status": "ok"})
    assert [r["key"] for r in files.read_csv(path)] == ["a", "b", "c"]
    assert not tables.journal_path(path).exists()


def test_one_writer_per_file(tmp_path):
    path = tables.table_path(tmp_path, "t")
    with tables.Table(path, "key", FIELDS):
        with pytest.raises(Busy, match=rf"t\.csv: this status table is being written by pid {os.getpid()} on "):
            tables.Table(path, "key", FIELDS)
        tables.Table(tables.table_path(tmp_path, "t", Shard(2, 2)), "key", FIELDS).close()  # another shard may write
    tables.Table(path, "key", FIELDS).close()


def test_newest_row_wins_across_shards_and_journals(tmp_path):
    table(tmp_path, [{"key": "a", "status": "failed", "updated": "2026-03-01T10:00:00.000000Z"},
                     {"key": "b", "status": "ok", "updated": "2026-03-01T10:00:00.000000Z"}])
    table(tmp_path, [{"key": "a", "status": "ok", "updated": "2026-03-01T10:00:00.000001Z"},
                     {"key": "b", "status": "failed", "updated": "2026-03-01T09:59:59.999999Z"}], name="t.2-of-2")
    table(tmp_path, [{"key": "z", "status": "ok", "updated": "2030-01-01T00:00:00Z"}], name="other")
    files.write_text(tmp_path / "t.1-of-2.journal", json.dumps({"key": "c", "status": "ok", "updated": "2026-03-01T11:00:00.000000Z"}) + "\n")
    rows = tables.read(tmp_path, "t", "key", FIELDS)
    assert {k: r["status"] for k, r in rows.items()} == {"a": "ok", "b": "ok", "c": "ok"}
    assert tables.read(tmp_path / "missing", "t", "key", FIELDS) == {}


def test_tables_written_by_earlier_versions_read_and_order(tmp_path, timezone):
    # download wrote "…Z" with microseconds, crop "+00:00" offsets, the bench local time without a zone
    timezone("EST+05")
    local = "2026-01-01T10:00:00"  # 15:00 UTC
    assert tables.stamp_time(local) == dt.datetime(2026, 1, 1, 15, tzinfo=dt.timezone.utc).timestamp()
    assert tables.stamp_time("2026-01-01T15:00:00.000000+00:00") == tables.stamp_time("2026-01-01T15:00:00Z")
    table(tmp_path, [{"key": "local-newer", "status": "old", "updated": local},
                     {"key": "utc-newer", "status": "old", "updated": local},
                     {"key": "unreadable", "status": "old", "updated": "yesterday"}])
    table(tmp_path, [{"key": "local-newer", "status": "new", "updated": "2026-01-01T14:59:59.000000+00:00"},
                     {"key": "utc-newer", "status": "new", "updated": "2026-01-01T15:00:01.000000Z"},
                     {"key": "unreadable", "status": "new", "updated": "2000-01-01T00:00:00Z"}], name="t.1-of-3")
    rows = tables.read(tmp_path, "t", "key", FIELDS)
    assert {k: r["status"] for k, r in rows.items()} == {"local-newer": "old", "utc-newer": "new", "unreadable": "new"}


def test_resuming_keeps_earlier_rows_and_their_stamps(tmp_path):
    old = [{"key": "a", "status": "ok", "updated": "2026-01-01T00:00:00"}, {"key": "b", "status": "failed", "updated": "2026-01-01T00:00:01"}]
    table(tmp_path, old)
    with tables.Table(tables.table_path(tmp_path, "t"), "key", FIELDS, tables.read(tmp_path, "t", "key", FIELDS)) as t:
        t.put({"key": "b", "status": "ok"})
    rows = {r["key"]: r for r in files.read_csv(tmp_path / "t.csv")}
    assert rows["a"] == old[0]
    assert rows["b"]["status"] == "ok" and rows["b"]["updated"].endswith("Z")


def test_an_unreadable_table_is_a_bad_input(tmp_path):
    (tmp_path / "t.csv").write_bytes(b"key,status\n\xff\xfe\n")
    with pytest.raises(BadInput, match="unreadable status table: .*t.csv"):
        tables.read(tmp_path, "t", "key", FIELDS)
