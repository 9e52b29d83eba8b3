"""Predictions and their status table: resume, shard files, tables written by earlier versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.bench.models import StaticModel
from eval.bench.predict import STATUS_FIELDS, Job, predict, read_status, status_path
from vhq.dataset.split import read_split
from vhq.io import files, video
from vhq.parallel import Shard
from vhq.testing.split_folder import make_split


@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> list[Job]:
    _, clips = read_split(make_split(tmp_path_factory.mktemp("data")), "test")
    return [Job(c.clip_id, c.path, c.path, video.probe(c.path).frames, 25.0, "absolute") for c in clips]


def test_resumes_from_a_status_table_in_the_old_timestamp_format(jobs, tmp_path):
    preds, run_dir = tmp_path / "preds", tmp_path / "runs"
    assert predict(StaticModel(), jobs, preds, run_dir, "mp4", Shard()) == (3, 0)
    rows = files.read_csv(run_dir / "status.csv")
    assert all(r["status"] == "ok" and r["updated"].endswith("Z") for r in rows)
    assert not list(run_dir.glob("*.journal"))
    # the table as earlier versions wrote it: local time without a zone, in insertion order
    files.write_csv(run_dir / "status.csv", [{**r, "updated": "2026-01-01T00:00:00"} for r in reversed(rows)], STATUS_FIELDS)
    assert predict(StaticModel(), jobs, preds, run_dir, "mp4", Shard()) == (0, 3)
    # a newer failure recorded by a shard run wins over the old ok row: that clip is predicted again
    key = jobs[0].key
    files.write_csv(status_path(run_dir, Shard(1, 2)), [{**rows[0], "key": key, "status": "failed", "updated": "2026-06-01T00:00:00.000000Z"}],
                    STATUS_FIELDS)
    assert read_status(run_dir)[key]["status"] == "failed"
    assert predict(StaticModel(), jobs, preds, run_dir, "mp4", Shard()) == (1, 2)
    assert read_status(run_dir)[key]["status"] == "ok"


def test_a_failed_prediction_is_recorded(jobs, tmp_path):
    class Short(StaticModel):
        kind = default_name = "short"

        def predict(self, source, driving, mode):
            yield source[None]

    with pytest.raises(Exception, match="produced 1 frame"):
        predict(Short(), jobs, tmp_path / "preds", tmp_path / "runs", "png", Shard())
    (row,) = files.read_csv(Path(tmp_path / "runs" / "status.csv"))
    assert row["status"] == "failed" and "produced 1 frame" in row["reason"] and row["format"] == "png"
    assert not list((tmp_path / "runs").glob("*.journal"))
