"""`vhq eval` on inputs that used to change a score silently: each is refused or warned about, and recorded."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch

from eval.encoding import describe
from vhq.io import files, video
from vhq.testing.synthetic import face_frames

LOSSLESS = {"crf": 0, "pix_fmt": "rgb24", "codec": "libx264rgb", "preset": "veryfast"}


def _frames(n, size=32, seed=0):
    return torch.from_numpy(face_frames(n, size=size, seed=seed))


def _summary(out):
    return {r["metric"]: r for r in files.read_csv(Path(out) / "summary.csv")}


def _params(out, metric="l1"):
    return json.loads(_summary(out)[metric]["params"])


def _details(out, metric="l1"):
    return json.loads(_summary(out)[metric]["details"])


def _fails(cli, tmp_path, *args, match: str):
    out = tmp_path / "out-failed"
    code, stdout, err = cli("eval", *args, "--out", out, "--leaderboard", tmp_path / "lb-failed.csv")
    assert code == 1, (stdout, err)
    assert err.count("error:") == 1 and match in err and "Traceback" not in err, err
    assert not out.exists() and not (tmp_path / "lb-failed.csv").exists()
    return err


def test_frame_rates_are_compared_and_a_mismatch_is_refused_unless_allowed(cli, tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    frames = _frames(4)
    video.write_video(gt / "a.mp4", frames, fps=25, **LOSSLESS)
    video.write_video(pred / "a.mp4", frames, fps=50, **LOSSLESS)
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", match="a (pred 50 fps, GT 25 fps)")
    code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--allow-fps-mismatch", "--out", tmp_path / "o")
    assert code == 0 and "another frame rate" in err, err
    assert _params(tmp_path / "o")["fps"] == "25" and _params(tmp_path / "o")["fps_pred"] == "50"
    assert _details(tmp_path / "o")["fps_mismatch_videos"] == 1


def test_frame_folders_follow_their_pair_or_fps(cli, tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    frames = _frames(3)
    video.write_video(gt / "a.mp4", frames, fps=30, **LOSSLESS)
    video.write_frames(pred / "a", frames)
    code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--out", tmp_path / "o")
    assert code == 0, err
    assert _params(tmp_path / "o")["fps"] == "30" and _details(tmp_path / "o")["pred_fps"] == "30"
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", "--fps", "25", match="a (pred 25 fps, GT 30 fps)")


def test_truncate_needs_an_offset_or_detects_outputs_that_skip_frame_0(cli, tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    frames = _frames(5)
    video.write_frames(gt / "a", frames)
    video.write_frames(pred / "a", frames[1:])  # LIA/FOMM style: the source frame is not predicted
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", match="a (pred 4, GT 5)")
    code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--truncate", "--out", tmp_path / "detected")
    assert code == 0 and "scored with offset 1 (detected" in err, err
    assert float(_summary(tmp_path / "detected")["l1"]["value"]) == 0.0
    assert _params(tmp_path / "detected")["offset"] == 1 and _details(tmp_path / "detected")["offset_source"] == "detected"
    code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--offset", "1", "--out", tmp_path / "explicit")
    assert code == 0, err
    assert float(_summary(tmp_path / "explicit")["l1"]["value"]) == 0.0
    assert _details(tmp_path / "explicit")["offset_source"] == "explicit" and _details(tmp_path / "explicit")["truncated_videos"] == 0
    code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--truncate", "--offset", "0", "--out", tmp_path / "zero")
    assert code == 0, err
    assert float(_summary(tmp_path / "zero")["l1"]["value"]) > 0.01  # index pairing: every frame one step off
    assert _params(tmp_path / "zero")["offset"] == 0 and _params(tmp_path / "zero")["truncate"] is True
    assert _details(tmp_path / "zero")["truncated_videos"] == 1
    assert _summary(tmp_path / "zero")["l1"]["testset_fingerprint"] != _summary(tmp_path / "detected")["l1"]["testset_fingerprint"]


def test_a_shorter_prediction_that_starts_at_frame_0_is_not_taken_for_the_convention(cli, tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    frames = _frames(5)
    video.write_frames(gt / "a", frames)
    video.write_frames(pred / "a", frames[:4])
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", "--truncate", match="pass --offset K")


def test_lossy_predictions_are_flagged_once_and_both_encodings_recorded(cli, tmp_path):
    gt, lossy, lossless = tmp_path / "gt", tmp_path / "lossy", tmp_path / "lossless"
    for k in ("a", "b"):
        frames = _frames(3, seed=len(k))
        video.write_frames(gt / k, frames)
        video.write_video(lossy / f"{k}.mp4", frames, fps=25)  # CRF 18 yuv420p
        video.write_video(lossless / f"{k}.mp4", frames, fps=25, **LOSSLESS)
    code, _, err = cli("eval", "--pred", lossy, "--gt", gt, "--metrics", "l1", "--out", tmp_path / "o1")
    assert code == 0 and err.count("lossy") == 1 and "2 of 2 predictions are lossy (mp4 h264 yuv420p crf=18.0" in err, err
    d = _details(tmp_path / "o1")
    assert d["lossy_pred_videos"] == 2 and d["pred_encoding"] == "mp4 h264 yuv420p crf=18.0" and d["gt_encoding"] == "png frames rgb24"
    code, _, err = cli("eval", "--pred", lossless, "--gt", gt, "--metrics", "l1", "--out", tmp_path / "o2")
    assert code == 0 and "lossy" not in err, err
    assert float(_summary(tmp_path / "o2")["l1"]["value"]) == 0.0  # libx264rgb CRF 0 gives back the very frames
    assert _details(tmp_path / "o2")["pred_encoding"] == "mp4 h264 gbrp qp=0"


@pytest.mark.parametrize(("options", "lossless"), [
    ({"crf": 0, "pix_fmt": "rgb24", "codec": "libx264rgb"}, True),
    ({"crf": 18, "pix_fmt": "rgb24", "codec": "libx264rgb"}, False),
    ({"crf": 0, "pix_fmt": "yuv444p"}, False),  # lossless in YUV only
    ({"crf": 18}, False),
])
def test_encoding_lossless_only_for_rgb_qp0_h264(tmp_path, options, lossless):
    path = video.write_video(tmp_path / "v.mp4", _frames(2), fps=25, **options)
    assert describe(video.probe(path)).lossless is lossless


def test_grayscale_predictions_are_warned_about(cli, tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    frames = _frames(2)
    video.write_frames(gt / "a", frames)
    video.write_frames(pred / "a", frames[..., :1].expand(-1, -1, -1, 3).contiguous())
    code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--out", tmp_path / "o")
    assert code == 0 and "1 predictions are grayscale" in err, err
    assert _details(tmp_path / "o")["grayscale_pred_videos"] == 1
    code, _, err = cli("eval", "--pred", pred, "--gt", pred, "--metrics", "l1", "--out", tmp_path / "gray-gt")
    assert code == 0 and "grayscale" not in err, err  # a grayscale test set is not a grayscale prediction


def test_duplicate_keys_are_one_error(cli, tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    frames = _frames(2)
    video.write_frames(gt / "v0", frames)
    video.write_frames(pred / "v0", frames)
    video.write_video(pred / "v0.mkv", frames, fps=25, **LOSSLESS)
    _fails(cli, tmp_path, "--pred", pred, "--gt", gt, "--metrics", "l1", match="1 keys name more than one video: v0 (v0/, v0.mkv)")


def test_the_smallest_size_comes_from_the_metrics(cli, tmp_path):
    gt = tmp_path / "gt"
    video.write_frames(gt / "a", _frames(1, size=24))
    _fails(cli, tmp_path, "--pred", gt, "--gt", gt, "--metrics", "l1,lpips", "--size", "24", match="--size 24: must be at least 31 pixels for lpips")
    _fails(cli, tmp_path, "--pred", gt, "--gt", gt, "--metrics", "akd", "--size", "31", match="at least 32 pixels for akd")
    err = _fails(cli, tmp_path, "--pred", gt, "--gt", gt, "--metrics", "lpips", match="24x24 frames are smaller than 31 pixels")
    assert "--size 31" in err
    code, _, err = cli("eval", "--pred", gt, "--gt", gt, "--metrics", "l1", "--size", "16", "--out", tmp_path / "o")
    assert code == 0, err


def test_every_row_records_its_inputs_and_the_per_video_csv_its_run(cli, tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    video.write_frames(gt / "a", _frames(3))
    video.write_frames(gt / "b", _frames(3, seed=2))
    video.write_frames(pred / "a", _frames(3, seed=1))
    code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--allow-missing", "--protocol", "fomm", "--name", "m1", "--out", tmp_path / "o")
    assert code == 0, err
    row = _summary(tmp_path / "o")["l1"]
    params, details = json.loads(row["params"]), json.loads(row["details"])
    assert params == {"size": "native", "resize": "none", "resolution": "32x32", "offset": 0, "truncate": False, "fps": "unknown"}
    assert details["missing_videos"] == 1 and details["truncated_videos"] == 0 and details["extra_videos"] == 0
    assert details["versions"] == {d: metadata.version(d) for d in ("torch", "face-alignment", "facenet-pytorch", "av")}
    sidecar = json.loads((tmp_path / "o" / "per_video-m1-fomm.json").read_text())
    assert sidecar["protocol"] == "fomm" and sidecar["testset_fingerprint"] == row["testset_fingerprint"] and sidecar["model"] == "m1"
    assert sidecar["csv_sha256"] == files.sha256_file(tmp_path / "o" / "per_video-m1-fomm.csv") == details["per_video_sha256"]
    assert details["per_video"] == "per_video-m1-fomm.csv"  # relative to summary.csv's folder


def test_two_models_in_one_folder_keep_their_own_intervals_and_a_changed_file_gives_none(cli, tmp_path):
    from eval.leaderboard import render

    gt = tmp_path / "gt"
    for k in range(3):
        video.write_frames(gt / f"v{k}", _frames(2, seed=k))
    preds = {}
    for name, shift in (("near", 2), ("far", 60)):
        preds[name] = tmp_path / name
        for k in range(3):
            video.write_frames(preds[name] / f"v{k}", (_frames(2, seed=k).to(torch.int16) + shift + 5 * k).clamp(0, 255).to(torch.uint8))
    board, out = tmp_path / "boards" / "lb.csv", tmp_path / "runs"
    for name, pred in preds.items():
        code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--name", name, "--out", out, "--leaderboard", board)
        assert code == 0, err
    rows = {r["model"]: r for r in files.read_csv(board)}
    for name, r in rows.items():
        d = json.loads(r["details"])
        assert d["per_video"] == f"../runs/per_video-{name}-lia.csv" and d["per_video_sha256"] == files.sha256_file(out / f"per_video-{name}-lia.csv")
    res = render(board, tmp_path / "render", resamples=200, plots=False)
    cells = {m: c for (m, _), c in res.tables[0].cells.items()}
    for name in preds:
        lo, hi = cells[name].interval
        assert lo <= cells[name].value <= hi  # each model's interval brackets its own mean
    assert cells["near"].interval[1] < cells["far"].interval[0]
    per_video = out / "per_video-near-lia.csv"
    per_video.write_text(per_video.read_text().replace("\n", "\r\n"))  # same numbers, other bytes: not the recorded file
    res = render(board, tmp_path / "render2", resamples=200, plots=False)
    cells = {m: c for (m, _), c in res.tables[0].cells.items()}
    assert cells["near"].interval is None and "changed since the row was written" in cells["near"].no_interval
    assert cells["far"].interval is not None
    assert "‡" in res.markdown_text and "no interval, per-video file ../runs/per\\_video-near-lia.csv changed" in res.markdown_text


def test_frames_from_an_offset_fill_the_gt_cache_under_their_own_key(cli, tmp_path, monkeypatch):
    from eval import paired, pairing

    gt, pred = tmp_path / "gt", tmp_path / "pred"
    frames = _frames(4)
    video.write_frames(gt / "a", frames)
    video.write_frames(pred / "a", frames[1:])

    class Net:
        backbone_id = "x"

        @staticmethod
        def provenance():
            return {"weight_sha256": ""}

    ps0 = pairing.match(pred, gt, truncate=True, offset=0)
    ps1 = pairing.match(pred, gt, offset=1)
    opts = paired.EvalOptions(metrics=[])
    assert ps0.pairs[0].frames == ps1.pairs[0].frames == 3
    assert paired._gt_key(ps0.pairs[0], opts, "identity", Net) != paired._gt_key(ps1.pairs[0], opts, "identity", Net)
    gpu = paired.EvalOptions(metrics=[], device="cuda:0")  # GPU features differ from CPU ones by float32 rounding
    assert paired._gt_key(ps0.pairs[0], opts, "identity", Net) != paired._gt_key(ps0.pairs[0], gpu, "identity", Net)
    assert np.array_equal(next(video.iter_frames(gt / "a", start=ps1.pairs[0].gt_start, count=1))[0].numpy(), frames[1].numpy())
