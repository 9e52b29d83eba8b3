"""`vhq eval` with distribution metrics: unpaired sets, protocol-bearing rows, the leaderboard."""

import json

import numpy as np
import pytest

from vhq import weights
from vhq.io import files, video
from vhq.testing.random_weights import write_i3d_checkpoint


def _set(root, n, frames, seed, size=48):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for i in range(n):
        clip = rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8)
        video.write_video(root / f"c{seed}_{i}.mp4", clip, fps=25, crf=0, pix_fmt="yuv444p")
    return root


@pytest.mark.slow
def test_fvd_and_kvd_from_the_cli_on_unpaired_sets(cli, tmp_path):
    weights.import_file("i3d_pretrained_400", write_i3d_checkpoint(tmp_path / "i3d.pt"), no_verify=True)
    real = _set(tmp_path / "real", 3, 16, seed=1)
    pred = _set(tmp_path / "pred", 2, 18, seed=2)  # other names, other count: nothing is paired
    board = tmp_path / "board.csv"
    code, out, err = cli("eval", "--pred", pred, "--gt", real, "--metrics", "fvd_i3d,kvd", "--out", tmp_path / "o",
                         "--name", "m", "--leaderboard", board, "--seed", "3")
    assert code == 0, err
    rows = files.read_csv(tmp_path / "o" / "summary.csv")
    assert [r["metric"] for r in rows] == ["fvd_i3d", "kvd"]
    fvd = rows[0]
    params = json.loads(fvd["params"])
    assert (fvd["protocol"], fvd["weighting"], fvd["n_videos"], fvd["n_samples"]) == ("stylegan-v", "set", "2", "2")
    assert (params["frames"], params["size"], params["seed"], params["cov"], params["fd_method"]) == (16, 224, 3, "biased", "eigen")
    assert fvd["weight"] == "i3d_pretrained_400" and fvd["weight_verified"] == "False"
    assert float(fvd["value"]) > 0 and "rank-deficient" in json.loads(fvd["details"])["warning"]
    assert len(fvd["testset_fingerprint"]) == 64
    assert [r["metric"] for r in files.read_csv(board)] == ["fvd_i3d", "kvd"]
    assert (tmp_path / "o" / "clips_i3d_stylegan-v_real.csv").exists()
    assert "fvd_i3d" in out and "stylegan-v" in out


def test_distribution_metrics_refuse_a_single_video_and_missing_weights(cli, tmp_path):
    real = _set(tmp_path / "real", 1, 16, seed=1)
    pred = _set(tmp_path / "pred", 2, 16, seed=2)
    code, _, err = cli("eval", "--pred", pred, "--gt", real, "--metrics", "fvd_i3d", "--out", tmp_path / "o")
    assert code == 1 and "at least 2" in err and str(real) in err
    real2 = _set(tmp_path / "real2", 2, 16, seed=3)
    code, _, err = cli("eval", "--pred", pred, "--gt", real2, "--metrics", "fvd_i3d", "--out", tmp_path / "o")
    assert code == 1 and "vhq weights" in err and "i3d_pretrained_400" in err
    assert not (tmp_path / "o").exists()
