"""`vhq eval` end to end: exact zeros, hand-computed values, protocols, cache determinism, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from vhq.io import files, video
from vhq.testing.synthetic import face_frames


def per_video_csv(out):
    """The one per-video CSV a run wrote into ``out`` (``per_video-<model>-<protocol>.csv``)."""
    (path,) = sorted(Path(out).glob("per_video-*.csv"))
    return path


def write_pngs(folder, frames):
    return video.write_frames(folder, torch.as_tensor(np.asarray(frames)))


def _summary(out):
    return {r["metric"]: r for r in files.read_csv(out / "summary.csv")}


@pytest.mark.slow
def test_identical_pred_and_gt_give_exact_zeros(cli, eval_weights, tmp_path):
    gt, pred, out = tmp_path / "gt", tmp_path / "pred", tmp_path / "out"
    video.write_video(gt / "id1" / "a.mp4", torch.from_numpy(face_frames(2, size=96)), fps=25)
    shutil.copytree(gt, pred)
    metrics = "l1,lpips,akd,mkr,aed,aed_facenet,akd_dlib68,mkr_dlib68"
    code, stdout, err = cli("eval", "--pred", pred, "--gt", gt, "--out", out, "--metrics", metrics, "--name", "copy", "--leaderboard", tmp_path / "lb.csv")
    assert code == 0, err
    rows = files.read_csv(per_video_csv(out))
    assert [r["key"] for r in rows] == ["id1/a"]
    s = _summary(out)
    assert set(s) == {"l1", "lpips_alex", "akd_fan2d", "mkr_face_fan2d", "aed_openface", "aed_facenet", "akd_dlib68", "mkr_face_dlib68"}
    for metric, r in s.items():
        assert float(r["value"]) == 0.0, metric
        assert r["protocol"] == "lia" and r["model"] == "copy" and r["vhq_version"]
        assert r["testset_fingerprint"] == s["l1"]["testset_fingerprint"] != ""
    assert int(s["akd_fan2d"]["n_frames"]) == 2  # both frames had a face on both sides
    assert int(s["akd_dlib68"]["n_frames"]) == 2  # the real dlib detector finds the synthetic face
    assert s["lpips_alex"]["weight"] == "alexnet+lpips_alex_lin" and s["lpips_alex"]["weight_verified"] == "False"
    assert s["l1"]["weighting"] == "video" and s["akd_fan2d"]["weighting"] == "frame"
    assert len(files.read_csv(tmp_path / "lb.csv")) == 8
    assert "akd_fan2d" in stdout and str(per_video_csv(out)) in stdout


def test_l1_hand_computed_and_protocol_weighting(cli, tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    base = np.full((4, 16, 16, 3), 100, np.uint8)
    write_pngs(gt / "short", base[:1])
    write_pngs(gt / "long", base[:3])
    write_pngs(pred / "short", base[:1] + 10)  # L1 = 10/255 on 1 frame (PNG is lossless)
    write_pngs(pred / "long", base[:3] + 40)  # L1 = 40/255 on 3 frames
    lia, fomm = tmp_path / "lia", tmp_path / "fomm"
    assert cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--out", lia)[0] == 0
    assert cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--out", fomm, "--protocol", "fomm")[0] == 0
    per = {r["key"]: float(r["l1"]) for r in files.read_csv(per_video_csv(lia))}
    assert per == pytest.approx({"long": 40 / 255, "short": 10 / 255}, abs=1e-15)
    assert float(_summary(lia)["l1"]["value"]) == pytest.approx((10 + 40) / 2 / 255, abs=1e-15)
    assert float(_summary(fomm)["l1"]["value"]) == pytest.approx((10 + 3 * 40) / 4 / 255, abs=1e-15)
    assert _summary(fomm)["l1"]["n_frames"] == "4" and _summary(fomm)["l1"]["n_videos"] == "2"


@pytest.mark.slow
def test_cold_and_warm_cache_with_batch_1_and_7_are_byte_identical(cli, eval_weights, tmp_path, monkeypatch):
    from eval.backbones.fan import FanLandmarker

    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for i in range(2):
        video.write_video(gt / f"v{i}.mp4", torch.from_numpy(face_frames(3, size=64, seed=i)), fps=25)
        video.write_video(pred / f"v{i}.mp4", torch.from_numpy(face_frames(3, size=64, seed=i + 7)), fps=25)
    calls = []
    real = FanLandmarker.analyse
    monkeypatch.setattr(FanLandmarker, "analyse", lambda self, frames: calls.append(frames.shape[0]) or real(self, frames))
    args = ["eval", "--pred", pred, "--gt", gt, "--metrics", "l1,lpips,akd,mkr,aed"]
    assert cli(*args, "--out", tmp_path / "cold", "--batch-size", "1")[0] == 0
    cold_calls = sum(calls)
    calls.clear()
    assert cli(*args, "--out", tmp_path / "warm", "--batch-size", "7")[0] == 0
    assert cold_calls == 12 and sum(calls) == 6  # warm: the GT landmarks came from the cache
    cold = (per_video_csv(tmp_path / "cold")).read_bytes()
    assert cold == (per_video_csv(tmp_path / "warm")).read_bytes()
    assert float(_summary(tmp_path / "cold")["akd_fan2d"]["value"]) > 0
    assert (eval_weights / "eval-gt").is_dir()


def _pair(tmp_path, n_gt=2, n_pred=2, size_pred=32):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    write_pngs(gt / "a", np.full((n_gt, 32, 32, 3), 50, np.uint8))
    write_pngs(pred / "a", np.full((n_pred, size_pred, size_pred, 3), 60, np.uint8))
    return pred, gt


def _fails(cli, tmp_path, *args, match: str, code_expected: int = 1):
    out = tmp_path / "out"
    code, stdout, err = cli("eval", *args, "--out", out, "--leaderboard", tmp_path / "lb.csv")
    assert code == code_expected, (stdout, err)
    assert "error:" in err and match in err, err
    assert not out.exists() and not (tmp_path / "lb.csv").exists()  # nothing written half-way
    return err


def test_error_not_a_video(cli, tmp_path):
    pred, gt = _pair(tmp_path)
    shutil.rmtree(pred / "a")
    (pred / "a.mp4").write_text("this is not a video")
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", match=str(pred / "a.mp4"))


def test_error_empty_folder_and_empty_file(cli, tmp_path):
    pred, gt = _pair(tmp_path)
    (tmp_path / "empty").mkdir()
    _fails(cli, tmp_path, "--pred", tmp_path / "empty", "--gt", gt, "--metrics", "l1", match="holds no videos")
    shutil.rmtree(pred / "a")
    (pred / "a.mp4").write_bytes(b"")
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", match="a.mp4")


def test_error_size_mismatch_without_size_and_resize_with_it(cli, tmp_path):
    pred, gt = _pair(tmp_path, size_pred=48)
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", match="pred 48x48, GT 32x32")
    code, out, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--size", "16", "--out", tmp_path / "o")
    assert code == 0, err
    s = _summary(tmp_path / "o")["l1"]
    assert float(s["value"]) == pytest.approx(10 / 255, abs=1e-12)  # constant frames survive the resize
    assert json.loads(s["params"])["size"] == 16


def test_error_missing_and_extra_keys(cli, tmp_path):
    pred, gt = _pair(tmp_path)
    write_pngs(gt / "b", np.zeros((2, 32, 32, 3), np.uint8))
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", match="have no prediction: b")
    code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--allow-missing", "--out", tmp_path / "o")
    assert code == 0 and "1 GT videos have no prediction" in err
    write_pngs(pred / "c", np.zeros((2, 32, 32, 3), np.uint8))
    shutil.rmtree(gt / "b")
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", match="have no GT video")


def test_error_frame_count_mismatch_and_truncate(cli, tmp_path):
    pred, gt = _pair(tmp_path, n_gt=3, n_pred=2)
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", match="a (pred 2, GT 3)")
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", "--truncate", match="--truncate needs to know how the frames line up")
    code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--truncate", "--offset", "0", "--out", tmp_path / "o")
    assert code == 0, err
    assert files.read_csv(per_video_csv(tmp_path / "o"))[0]["frames"] == "2"


def test_error_unknown_metric_and_protocol(cli, tmp_path):
    pred, gt = _pair(tmp_path)
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1,fid", match="unknown metric(s): fid", code_expected=2)  # a usage error
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--protocol", "tpami", match="unknown protocol")


def test_error_missing_weights_refuses_to_run(cli, tmp_path):
    pred, gt = _pair(tmp_path)
    err = _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1,lpips", match="alexnet")
    assert "vhq weights" in err


def test_error_nan_producing_frames(cli, tmp_path):
    import torchvision

    from vhq import weights

    sd = torchvision.models.alexnet(weights=None).state_dict()
    sd["features.0.weight"].fill_(float("nan"))
    bad = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(sd, bad)
    weights.import_file("alexnet", bad, no_verify=True)
    pred, gt = _pair(tmp_path)
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1,lpips", match="non-finite lpips_alex")


def test_aed_mtcnn_crop_is_its_own_metric(cli, eval_weights, tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    write_pngs(gt / "a", face_frames(2, size=128, face_scale=0.6))
    write_pngs(pred / "a", face_frames(2, size=128, face_scale=0.6, seed=3))
    code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "aed_facenet", "--aed-crop", "mtcnn", "--aed-distance", "l2", "--out", tmp_path / "o")
    assert code == 0, err
    row = files.read_csv(per_video_csv(tmp_path / "o"))[0]
    assert row["aed_facenet_mtcnn_l2_frames"] == "2"  # MTCNN (shipped weights) finds the synthetic face
    s = _summary(tmp_path / "o")["aed_facenet_mtcnn_l2"]
    assert 0 < float(s["value"]) <= 2.0  # plain L2 between unit vectors
    assert s["weight"] == "facenet_vggface2+mtcnn"
    assert json.loads(s["params"])["aed_crop"] == "mtcnn"
