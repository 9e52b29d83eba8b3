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


def test_fvd_videomae_end_to_end_on_a_shrunk_network(cli, tmp_path):
    """The real file format (fp16, ``module`` wrapper) of a depth-2 VideoMAE-v2, through the registry and `vhq eval`."""
    from vhq.testing.random_weights import write_videomae_checkpoint

    f = write_videomae_checkpoint(tmp_path / "vit_g_hybrid_pt_1200e_ssv2_ft.pth", depth=2, dim=64, wrapper="module")
    weights.import_file("videomae_v2_g_ssv2", f, no_verify=True)
    real = _set(tmp_path / "real", 3, 20, seed=1)
    pred = _set(tmp_path / "pred", 2, 16, seed=2)
    board = tmp_path / "board.csv"
    code, out, err = cli("eval", "--pred", pred, "--gt", real, "--metrics", "fvd_videomae", "--out", tmp_path / "o",
                         "--name", "m", "--leaderboard", board, "--clip-resolution", "128", "--resample-to", "5")
    assert code == 0, err
    [row] = files.read_csv(tmp_path / "o" / "summary.csv")
    params, details = json.loads(row["params"]), json.loads(row["details"])
    assert (row["metric"], row["protocol"], row["backbone"], row["weight"]) == ("fvd_videomae", "cd-fvd", "videomae_g", "videomae_v2_g_ssv2")
    assert (params["cov"], params["fd_method"], params["value_path"], params["clip_resolution"], params["resample_to"]) == ("biased", "sqrtm_real", "x/255", 128, 5)
    assert (params["feature_dim"], row["n_videos"], row["n_samples"], details["clips_real"]) == (64, "2", "5", 3)
    assert float(row["value"]) > 0
    assert len(files.read_csv(tmp_path / "o" / "clips_videomae_g_cd-fvd_pred.csv")) == 5
    assert [r["metric"] for r in files.read_csv(board)] == ["fvd_videomae"]
    assert "fvd_videomae" in out and "cd-fvd" in out

    # The same generated set against published statistics of the real set (cd-fvd's pickle format).
    from eval import distribution
    from eval.functional.frechet import SufficientStats

    feats = np.random.default_rng(0).normal(size=(7, 64))
    stats = distribution.write_real_stats(tmp_path / "videomae_ffs_full_res128_len16_skip1_seed0.pkl", SufficientStats.of(feats))
    code, out, err = cli("eval", "--pred", pred, "--real-stats", stats, "--metrics", "fvd_videomae", "--out", tmp_path / "o2",
                         "--clip-resolution", "128")
    assert code == 0, err
    [row] = files.read_csv(tmp_path / "o2" / "summary.csv")
    details = json.loads(row["details"])
    assert (details["real_stats"], details["n_real"], details["real_stats_sha256"]) == ("imported", 7, files.sha256_file(stats))
    assert row["testset"] == stats.name and row["testset_fingerprint"] == files.sha256_file(stats)
    code, _, err = cli("eval", "--pred", pred, "--real-stats", stats, "--metrics", "fvd_videomae,kvd", "--out", tmp_path / "o3")
    assert code == 1 and "--real-stats" in err and "kvd" in err and not (tmp_path / "o3").exists()
