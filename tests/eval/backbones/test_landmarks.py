"""Landmark backbones: FAN (random-init, real architecture) and dlib68 (real packaged weights)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eval.functional import KeypointFrames, keypoint_frame_stats
from vhq.errors import MissingWeights
from vhq.testing.synthetic import face_frames


def _shift(img: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(img)
    out[k:, k:] = img[:-k, :-k]
    return out


@pytest.mark.slow
def test_fan_akd_equals_whole_pixel_shift(eval_weights):
    """Image and box moved by k pixels in x and y → every landmark moves by k → AKD = k."""
    from eval.backbones.fan import FanLandmarker

    fan = FanLandmarker()
    img = face_frames(1, size=128, face_scale=0.5)[0]
    box = np.array([44.0, 40.0, 84.0, 80.0, 1.0])
    base = fan.landmarks(img, box)
    gt = KeypointFrames.from_list([base])
    for k in (1, 3):
        moved = fan.landmarks(_shift(img, k), box + np.array([k, k, k, k, 0.0]))
        st = keypoint_frame_stats(KeypointFrames.from_list([moved]), gt)
        assert st["akd_frames"] == 1.0
        assert st["akd_sum"] == pytest.approx(float(k), abs=1e-9)


def test_fan_refuses_without_weights():
    from eval.backbones.fan import FanLandmarker

    with pytest.raises(MissingWeights, match="fan2d"):
        FanLandmarker()


def test_fan_never_downloads(eval_weights, monkeypatch):
    """The FAN is found through the linked hub folder; torch.hub's directory is restored."""
    import face_alignment.utils as fau

    from eval.backbones.fan import FanLandmarker

    def no_download(*a, **k):
        raise AssertionError("face-alignment tried to download")

    monkeypatch.setattr(fau, "download_url_to_file", no_download)
    before = torch.hub.get_dir()
    FanLandmarker()
    assert torch.hub.get_dir() == before


def test_fan_backbone_id_and_gt_cache_key_follow_the_installed_face_alignment(eval_weights, monkeypatch, tmp_path):
    from importlib import metadata

    from eval import paired, pairing
    from eval.backbones import fan
    from vhq.io import video

    video.write_frames(tmp_path / "v", torch.from_numpy(face_frames(1, size=32)))
    pair = pairing.match(tmp_path, tmp_path).pairs[0]
    opts = paired.EvalOptions(metrics=[])
    installed = fan.FanLandmarker()
    assert installed.backbone_id.startswith(f"face-alignment-{metadata.version('face-alignment')}:")
    monkeypatch.setattr(fan, "face_alignment_version", lambda: "0.0.1")
    other = fan.FanLandmarker()
    assert other.backbone_id.startswith("face-alignment-0.0.1:")
    assert paired._gt_key(pair, opts, "landmarks", installed) != paired._gt_key(pair, opts, "landmarks", other)


dlib = pytest.importorskip("dlib", reason="dlib-bin is an optional extra: pip install 'vhq[landmarks]'")


def test_dlib68_detects_and_is_shift_exact():
    from eval.backbones.dlib68 import Dlib68Landmarker

    lm = Dlib68Landmarker()
    assert lm.provenance()["weight"] == "dlib68" and lm.provenance()["weight_sha256"]
    frames = torch.from_numpy(face_frames(2, size=96, face_scale=0.7))
    pts = lm.analyse(frames)
    assert all(p is not None and p.shape == (68, 2) for p in pts)
    same = keypoint_frame_stats(KeypointFrames.from_list(lm.analyse(frames)), KeypointFrames.from_list(pts))
    assert same["akd_sum"] == 0.0 and same["akd_frames"] == 2.0
    img = frames[0].numpy()
    box = lm.detect(img)
    a = lm.landmarks(img, box)
    b = lm.landmarks(_shift(img, 3), box + np.array([3, 3, 3, 3, 0.0]))
    assert np.abs(b - a).mean() == pytest.approx(3.0)
    blank = np.full((96, 96, 3), 127, np.uint8)
    assert lm.detect(blank) is None
