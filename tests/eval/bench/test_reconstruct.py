"""`vhq bench reconstruct` on a tiny synthetic test set: baselines, LIA, resume, layout, leaderboard rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vhq.io import files, video
from vhq.testing.split_folder import make_split


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_split(tmp_path_factory.mktemp("data"))


def board_rows(path: Path) -> list[dict]:
    return files.read_csv(path)


def test_static_and_gt_rows(cli, data, tmp_path):
    out = tmp_path / "bench"
    for model in ("gt", "static"):
        code, stdout, err = cli("bench", "reconstruct", "--model", model, "--data", data, "--out", out, "--metrics", "l1")
        assert code == 0, err
        assert f"{model}: reconstruct, 3 predicted now, 0 reused" in stdout
    rows = {r["model"]: r for r in board_rows(out / "leaderboard.csv")}
    assert set(rows) == {"gt", "static"}
    assert float(rows["gt"]["value"]) == 0.0  # exactly: the GT copied through the lossless writer
    assert float(rows["static"]["value"]) > 0.01
    assert rows["gt"]["testset_fingerprint"] == rows["static"]["testset_fingerprint"]
    assert rows["gt"]["n_videos"] == "3" and rows["gt"]["n_frames"] == "18"
    details = json.loads(rows["static"]["details"])
    assert details["bench"]["motion"] == "absolute" and details["bench"]["model"] == {"kind": "static"}
    per_video = (out / details["per_video"])  # relative to the leaderboard's folder
    assert per_video.is_file() and len(files.read_csv(per_video)) == 3
    assert details["per_video_sha256"] == files.sha256_file(per_video)
    sidecar = json.loads(per_video.with_suffix(".json").read_text())
    assert sidecar["testset_fingerprint"] == rows["static"]["testset_fingerprint"] and sidecar["protocol"] == rows["static"]["protocol"]
    assert json.loads(rows["gt"]["details"])["pred_encoding"] == "mp4 h264 gbrp qp=0"  # the bench writes lossless predictions
    # layout `vhq eval` reads: gt/<clip>.mp4 links, preds/<model>/<clip>.mp4
    gt_keys = sorted(video.list_videos(out / "gt"))
    assert gt_keys == sorted(video.list_videos(out / "preds" / "static"))
    # lossless: the decoded prediction of `gt` is the decoded clip, bit for bit
    k = gt_keys[0]
    assert torch.equal(video.read_frames(out / "preds" / "gt" / f"{k}.mp4"), video.read_frames(out / "gt" / f"{k}.mp4"))
    # static: every frame is frame 0 of the clip
    pred = video.read_frames(out / "preds" / "static" / f"{k}.mp4")
    first = video.read_frames(out / "gt" / f"{k}.mp4", 0, 1)[0]
    assert all(torch.equal(f, first) for f in pred)


def test_resume_png_format_and_same_numbers_via_eval(cli, data, tmp_path):
    out = tmp_path / "bench"
    args = ("bench", "reconstruct", "--model", "static", "--data", data, "--out", out, "--metrics", "l1", "--format", "png")
    code, stdout, err = cli(*args)
    assert code == 0, err
    preds = out / "preds" / "static"
    assert all(p.is_dir() and len(list(p.glob("*.png"))) == 6 for p in preds.iterdir())
    code, stdout, err = cli(*args)
    assert code == 0 and "0 predicted now, 3 reused" in stdout
    status = {r["key"]: r for r in files.read_csv(out / "runs" / "static" / "status.csv")}
    assert {r["status"] for r in status.values()} == {"ok"} and len(status) == 3
    # `vhq eval` on the bench's layout gives the bench's number
    code, stdout, err = cli("eval", "--pred", preds, "--gt", out / "gt", "--metrics", "l1", "--out", tmp_path / "ev",
                            "--leaderboard", tmp_path / "lb.csv", "--name", "static-eval")
    assert code == 0, err
    bench_value = board_rows(out / "leaderboard.csv")[0]["value"]
    assert files.read_csv(tmp_path / "ev" / "summary.csv")[0]["value"] == bench_value
    # `vhq eval` rows name their per-video CSV too, so the renderer has intervals for them
    row = board_rows(tmp_path / "lb.csv")[0]
    details = json.loads(row["details"])
    assert details["per_video"] == "ev/per_video-static-eval-lia.csv"  # relative to the leaderboard's folder
    assert details["per_video_sha256"] == files.sha256_file(tmp_path / "ev" / "per_video-static-eval-lia.csv")
    from eval.leaderboard import build_tables

    (table,) = build_tables(board_rows(tmp_path / "lb.csv"), tmp_path / "lb.csv", resamples=200)
    cell = next(iter(table.cells.values()))
    assert cell.interval is not None and cell.interval[0] <= cell.value <= cell.interval[1]


def _tiny_lia(path: Path, size: int = 32) -> Path:
    from lia.checkpoint import save_checkpoint
    from lia.generator import Generator

    torch.manual_seed(0)
    return save_checkpoint(path, Generator(size=size, style_dim=64, motion_dim=5), step=0, perceptual="none")


@pytest.mark.slow
def test_lia_random_init_is_scored_at_clip_size(cli, data, tmp_path):
    ckpt = _tiny_lia(tmp_path / "tiny.pt")
    out = tmp_path / "bench"
    code, stdout, err = cli("bench", "reconstruct", "--model", "lia", "--ckpt", ckpt, "--data", data, "--out", out, "--metrics", "l1", "--device", "cpu")
    assert code == 0, err
    assert "lia-tiny: reconstruct, 3 predicted now" in stdout
    preds = video.list_videos(out / "preds" / "lia-tiny")
    assert len(preds) == 3 and video.probe(next(iter(preds.values()))).width == 32  # the model's size
    row = board_rows(out / "leaderboard.csv")[0]
    assert json.loads(row["params"])["size"] == 64  # scored at the clips' size
    model = json.loads(row["details"])["bench"]["model"]
    assert model["kind"] == "lia" and model["ckpt_format"] == "vhq-lia" and model["ckpt_sha256"] == files.sha256_file(ckpt)
    assert model["smoke"] is True and model["step"] == 0  # trained without the perceptual loss
    assert 0 < float(row["value"]) < 1


def test_missing_weights_fail_or_are_skipped(cli, data, tmp_path):
    out = tmp_path / "bench"
    code, _, err = cli("bench", "reconstruct", "--model", "static", "--data", data, "--out", out, "--metrics", "l1,lpips")
    assert code == 1 and "lpips" in err and "vhq weights fetch alexnet" in err
    assert not (out / "preds").exists()  # refused before any work
    code, stdout, err = cli("bench", "reconstruct", "--model", "static", "--data", data, "--out", out, "--metrics", "l1,lpips", "--skip-missing-weights")
    assert code == 0, err
    assert "lpips            skipped: weights not in the cache (vhq weights fetch alexnet)" in stdout
    assert [r["metric"] for r in board_rows(out / "leaderboard.csv")] == ["l1"]
    assert json.loads((out / "runs" / "static" / "run.json").read_text())["skipped_metrics"].keys() == {"lpips"}


def test_bad_inputs_are_one_line_errors(cli, data, tmp_path):
    code, _, err = cli("bench", "reconstruct", "--model", "nope", "--data", data, "--out", tmp_path / "o")
    assert code == 1 and "unknown model" in err
    code, _, err = cli("bench", "reconstruct", "--model", "static", "--data", tmp_path, "--out", tmp_path / "o")
    assert code == 1 and "no test.csv" in err
    code, _, err = cli("bench", "reconstruct", "--model", "lia", "--data", data, "--out", tmp_path / "o")
    assert code == 1 and "--ckpt" in err
    assert "Traceback" not in err
