"""`vhq demo`: its synthetic site and metadata, its checks, and the whole pipeline on a miniature plan."""

from __future__ import annotations

import json

import pytest

from vhq.dataset import manifest as M
from vhq.io import files
from vhq.testing import demo

MINI = demo.DemoPlan(
    videos=(
        demo.DemoVideo("vhqminitr01", "id80001", "train", (360, 180), 50, ((0, 20), (25, 45)), seed=0),
        demo.DemoVideo("vhqminite01", "id80002", "test", (360, 180), 25, ((0, 20),), seed=1),
        demo.DemoVideo("vhqmini180p", "id80003", "test", (180,), 25, ((0, 20),), seed=2),
    ),
    min_height=360, crop_size=64, min_crop=60, min_frames=16, lia_size=64, train_iters=0, metrics="l1,lpips,akd_dlib68",
)


def test_metadata_rows_import_as_a_manifest(tmp_path):
    rows = demo.metadata_rows(demo.PLAN)
    path = files.write_csv(tmp_path / "vox-metadata.csv", rows, list(rows[0]))
    m, _ = M.import_fomm(str(path), tmp_path / "manifest.csv", sha256=None)
    assert len(m) == 6 and {c.partition for c in m.clips} == {"train", "test"}
    by_person = {c.person_id: c.partition for c in m.clips}
    assert by_person == {"id90001": "train", "id90002": "train", "id90003": "test", "id90004": "test"}
    for v in demo.PLAN.videos:
        assert len(v.video_id) == 11 and v.frames % 25 == 0 and max(e for _, e in v.spans) < v.frames
    for c in m.clips:  # tube boxes hold the face of every frame of the clip, inside the 1920x1080 frame
        v = next(v for v in demo.PLAN.videos if v.video_id == c.video_id)
        spec = v.spec(1080)
        for t in (c.start_frame, c.end_frame - 1):
            x0, y0, x1, y1 = spec.face_box(t)
            assert c.left <= x0 and c.top <= y0 and x1 <= c.right and y1 <= c.bottom
        assert 0 <= c.left < c.right <= 1920 and 0 <= c.top < c.bottom <= 1080


def test_site_advertises_the_renditions(tmp_path):
    plan = demo.DemoPlan(videos=(demo.DemoVideo("vhqsitetest", "id1", "test", (144, 72), 25, ((0, 20),), seed=0),))
    root = demo.write_site(tmp_path / "site", plan)
    master = (root / "watch" / "vhqsitetest").read_text()
    assert "RESOLUTION=256x144" in master and "RESOLUTION=128x72" in master
    assert "../v/vhqsitetest/144p.m3u8" in master
    stamp = (root / "site.json").stat().st_mtime_ns
    demo.write_site(root, plan)  # done: not rendered again
    assert (root / "site.json").stat().st_mtime_ns == stamp


def test_check_leaderboard_catches_a_nonzero_gt(tmp_path):
    rows = [{"model": "gt", "metric": "l1", "value": "0.0"}, {"model": "static", "metric": "l1", "value": "0.2"},
            {"model": "gt", "metric": "akd_dlib68", "value": "0.5"}]
    board = files.write_csv(tmp_path / "lb.csv", rows, ["model", "metric", "value"])
    ev = files.write_csv(tmp_path / "s.csv", [{"metric": "l1", "value": "0.2"}], ["metric", "value"])
    check = demo.check_leaderboard(board, ev, "static")
    assert check["problems"] == ["gt akd_dlib68 is 0.5, not 0"] and check["eval_matches"]


def test_train_args_are_accepted_by_train_lia(cli, tmp_path):
    (tmp_path / "crops").mkdir()
    args = demo.train_args(demo.PLAN, tmp_path / "crops", tmp_path / "runs", "none")
    code, out, err = cli(*args, "--dry-run")
    assert code == 0, err
    opts = json.loads(out)
    assert (opts["size"], opts["iters"], opts["batch"], opts["perceptual"], opts["keep"]) == (128, demo.PLAN.train_iters, 2, "none", 1)


def test_lmdm_train_args_are_accepted_by_train_lmdm(cli, tmp_path):
    code, out, err = cli(*demo.lmdm_train_args(demo.PLAN, tmp_path / "motion", tmp_path / "runs"), "--dry-run")
    assert code == 0, err
    opts = json.loads(out)
    assert (opts["seq_len"], opts["iters"], opts["diffusion_steps"], opts["mult"]) == (16, demo.PLAN.lmdm_iters, 100, [1, 2])


@pytest.mark.slow
def test_demo_runs(tmp_path, capsys):
    """The real commands end to end on a miniature plan without the LIA stage (`make demo` runs the
    full plan, training included, in CI; the trainer's options are checked above)."""
    run = demo.run(tmp_path / "d", plan=MINI)
    out = capsys.readouterr().out
    stages = [s.name for s in run.stages]
    assert stages[:6] == ["synthesise", "manifest", "download", "crop", "split", stages[5]]
    assert {"bench static", "bench gt", "eval", "leaderboard render"} <= set(stages)
    status = {r["video_id"]: r["status"] for r in files.read_csv(tmp_path / "d" / "videos" / "download_status.csv")}
    assert status == {"vhqminitr01": "ok", "vhqminite01": "ok", "vhqmini180p": "below-min-height"}
    assert len(files.read_csv(tmp_path / "d" / "crops" / "test.csv")) == 1
    board = {(r["model"], r["metric"]): r for r in files.read_csv(tmp_path / "d" / "bench" / "leaderboard.csv")}
    assert board[("gt", "l1")]["value"] == "0.0" and float(board[("static", "l1")]["value"]) > 0
    assert ("static", "lpips_alex") not in board  # no weights in this cache: skipped, not faked
    assert "lpips        vhq weights fetch alexnet" in out
    assert "| gt | 0 [0, 0] |" in out and "static is worse than gt" in out
    assert (tmp_path / "d" / "report" / "leaderboard.html").is_file()
    assert "train-lia" not in stages and "bench lia" not in stages
