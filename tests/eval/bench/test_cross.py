"""`vhq bench cross`: frozen pairs (missing ones reported, not re-drawn), the real set, relative motion, scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vhq.io import files, video
from vhq.testing.split_folder import clip_id, make_split

PERSONS = ("id001", "id002", "id003")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_split(tmp_path_factory.mktemp("data"), persons=PERSONS, frames=20)


def pairs_file(folder: Path) -> Path:
    ids = [clip_id(p, i, 20) for i, p in enumerate(PERSONS)]
    rows = [
        {"pair_id": "x0000", "source_clip": ids[0], "driving_clip": ids[1], "source_person": "id001", "driving_person": "id002"},
        {"pair_id": "x0001", "source_clip": ids[1], "driving_clip": ids[2], "source_person": "id002", "driving_person": "id003"},
        {"pair_id": "x0002", "source_clip": "id004#gone#000000#000100", "driving_clip": ids[0], "source_person": "id004", "driving_person": "id001"},
    ]
    return files.write_csv(folder / "pairs.csv", rows, list(rows[0]))


def test_pairs_real_set_and_missing_pairs(cli, data, tmp_path):
    out = tmp_path / "cross"
    code, stdout, err = cli("bench", "cross", "--model", "gt", "--data", data, "--out", out, "--pairs", pairs_file(tmp_path),
                            "--frames", "16", "--no-score")
    assert code == 0, err
    assert "1 of 3 pairs of pairs.csv name clips this build lacks" in err
    used = {r["pair_id"]: r["state"] for r in files.read_csv(out / "pairs_used.csv")}
    assert used == {"x0000": "used", "x0001": "used", "x0002": "missing source"}
    assert sorted(video.list_videos(out / "preds" / "gt")) == ["x0000", "x0001"]  # not re-drawn
    # the real set: every clip of the split, its first 16 frames, lossless
    real = video.list_videos(out / "real")
    assert len(real) == 3 and all(video.probe(p).frames == 16 for p in real.values())
    k = clip_id("id002", 1, 20)
    assert torch.equal(video.read_frames(real[k]), video.read_frames(data / "clips" / f"{k}.mp4", 0, 16))
    # `gt` in cross copies the driving frames; the source image is the source clip's first frame
    assert torch.equal(video.read_frames(out / "preds" / "gt" / "x0000.mp4"), video.read_frames(real[k]))
    src = video.read_image(out / "sources" / "x0000.png")
    assert torch.equal(src, video.read_frames(data / "clips" / f"{clip_id('id001', 0, 20)}.mp4", 0, 1)[0])


def test_relative_motion_and_scores_through_the_api(data, tmp_path, monkeypatch):
    from eval.bench import protocols as bench
    from eval.bench.models import StaticModel
    from eval.distribution import colour_mean_embedder

    modes = []
    monkeypatch.setattr(StaticModel, "predict", lambda self, s, d, mode: (modes.append(mode), [s[None].expand(b.shape[0], -1, -1, -1) for b in d])[1])
    opts = bench.BenchOptions(data=data, out=tmp_path / "cross", pairs=pairs_file(tmp_path), frames=16, metrics="csim,acd", device="cpu")
    res = bench.cross(StaticModel(), opts, embedder=colour_mean_embedder, embedder_info={"backbone": "colour_mean"})
    assert modes == ["relative", "relative"]
    rows = {r["metric"]: r for r in res.rows}
    assert float(rows["csim"]["value"]) == pytest.approx(1.0)  # the source repeated: same colour feature as the source
    assert float(rows["acd"]["value"]) == pytest.approx(0.0, abs=1e-12)  # no change within a video
    d = json.loads(rows["csim"]["details"])
    assert d["pairs"] == {"file": "pairs.csv", "sha256": files.sha256_file(tmp_path / "pairs.csv"), "listed": 3, "used": 2, "missing": 1}
    assert d["real_set"]["clips"] == 3 and d["real_set"]["frames"].startswith("0-15")
    assert d["bench"]["motion"] == "relative" and rows["csim"]["testset"].endswith("test cross")
    board = files.read_csv(tmp_path / "cross" / "leaderboard.csv")
    assert {r["metric"] for r in board} == {"csim", "acd"} and {r["n_videos"] for r in board} == {"2"}


def test_cross_refuses_paired_metrics_and_empty_overlap(cli, data, tmp_path):
    code, _, err = cli("bench", "cross", "--model", "static", "--data", data, "--out", tmp_path / "c", "--metrics", "l1")
    assert code == 1 and "no ground truth" in err
    code, _, err = cli("bench", "cross", "--model", "static", "--data", data, "--out", tmp_path / "c", "--metrics", "csim", "--skip-missing-weights")
    assert code == 1 and "none of the 525 pairs" in err  # the shipped pairs name VoxCeleb clips, not these
