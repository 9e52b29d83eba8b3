"""The face check reuses the frames the scene-cut pass decodes and skips MTCNN's finest pyramid levels
(faces too small to pass): same detector inputs, and the same IoUs and keep/drop decisions as the
check's earlier way (decode the sampled frames again, full pyramid)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vhq.dataset.crop import faces as F
from vhq.dataset.crop import geometry as C
from vhq.dataset.crop.geometry import Rejected
from vhq.dataset.crop.scenes import find_cuts, keep_segment
from vhq.dataset.download import status as download_status
from vhq.io.video import probe
from vhq.testing import download_folder as D
from vhq.testing import synthetic


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces")
    vids = {
        "big": D.Video("vidBig", D.spec(frames=80, seed=1, face_scale=0.7)),  # square 281 px: downscaled to DETECT_SIZE
        "cut": D.Video("vidCut", D.spec(frames=80, seed=2, cut_at=50)),  # square 230 px: detected as is
        "noface": D.Video("vidNo", D.spec(frames=60, seed=3, face=False)),
        "fps30": D.Video("vid30", D.spec(frames=84, fps=30.0, seed=4)),  # resampled to the manifest's 25 fps
        "section": D.Video("vidSec", D.spec(frames=60, seed=5, first_index=40), section_start=40),
    }
    D.write_downloads(root, list(vids.values()))
    return root, vids


def _setup(root: Path, video: D.Video, a: int, b: int, box=None):
    clip = D.clip(video, "p", "train", a, b, box=box)
    src = C.locate(clip, download_status.read(root)[video.video_id], root)
    info = probe(src.path)
    t = C.timing(clip, src, info.fps, info.frames)
    sq = C.crop_region(clip, info.width, info.height, min_crop=0)
    return clip, src, t, sq


def _old_frame_iou(det: F.Detector, frame: np.ndarray, sq: C.Region) -> float:
    """The check's earlier scoring, verbatim: a decoded RGB frame cut and downscaled here, MTCNN's full pyramid."""
    import cv2

    region = frame[sq.y : sq.y + sq.height, sq.x : sq.x + sq.width]
    scale = min(1.0, F.DETECT_SIZE / max(sq.width, sq.height))
    if scale < 1.0:
        region = cv2.resize(region, (round(sq.width * scale), round(sq.height * scale)), interpolation=cv2.INTER_AREA)
    best = 0.0
    for (x0, y0, x1, y1), _ in det.faces(np.ascontiguousarray(region)):
        face = (x0 / scale + sq.x, y0 / scale + sq.y, x1 / scale + sq.x, y1 / scale + sq.y)
        best = max(best, C.iou(face, sq.box))
    return best


def _old_check(det, path, t, sq, seg, k=F.SAMPLES, threshold=F.THRESHOLD) -> tuple[bool, tuple[float, ...], float]:
    """The earlier check: decode the sampled frames again, score each; (kept, IoUs, median)."""
    outs = F.sample_frames(seg, k)
    frames = F.grab(path, [t.file_frame(o) for o in outs])
    ious = tuple(round(_old_frame_iou(det, frames[t.file_frame(o)], sq), 4) for o in outs)
    median = round(float(np.median(ious)), 4)
    return median >= threshold, ious, median


@pytest.mark.parametrize("name,a,b", [("big", 10, 70), ("cut", 5, 45), ("fps30", 13, 63), ("section", 45, 95)])
def test_scene_pass_prefetches_exactly_the_frames_a_second_decode_gives(videos, name, a, b):
    root, vids = videos
    clip, src, t, sq = _setup(root, vids[name], a, b)
    pf = F.Prefetch(t, sq, clip.frames)
    find_cuts(src.path, t, clip.frames, on_frame=pf)
    assert set(pf.squares) == pf.want and len(pf.want) == F.SAMPLES
    again = F.grab(src.path, sorted(pf.want))
    for i in sorted(pf.want):
        want = F.detect_input(again[i], sq)
        assert pf.squares[i].shape == want.shape and pf.squares[i].dtype == np.uint8
        assert np.array_equal(pf.squares[i], want), (name, i)
    if name == "big":
        assert F.detect_scale(sq) < 1.0 and max(pf.squares[min(pf.want)].shape[:2]) == F.DETECT_SIZE


# (video, clip span, box): kept whole, trimmed by a cut (samples move), no face, a box beside the face
CASES = [("big", 10, 70, None), ("cut", 20, 80, None), ("noface", 5, 55, "tube"), ("big", 10, 60, (40, 40, 300, 300))]


@pytest.mark.slow
def test_check_with_prefetch_matches_the_earlier_check(videos, monkeypatch):
    """Tolerance: none. The detector sees the same pixels and its kept pyramid levels are its own, so
    on these clips IoUs, medians and decisions are equal (by design only faces too small to reach the
    threshold may be missed, which can lower an IoU that was under it anyway)."""
    root, vids = videos
    det = F.Detector()
    grabbed: list[list[int]] = []
    real_grab = F.grab

    def counting_grab(path, indices):
        grabbed.append(sorted(indices))
        return real_grab(path, indices)

    decisions = []
    for name, a, b, box in CASES:
        if box == "tube":  # the face's box from a video with a face, over a video without one
            box = synthetic.tube_box(vids["big"].spec, a, b, ref=D.REF)
        clip, src, t, sq = _setup(root, vids[name], a, b, box)
        if box is None:  # the face's own box: the pyramid is cut short, so the comparison tests that too
            assert F.min_face(sq, F.THRESHOLD) > F.MIN_FACE, name
        pf = F.Prefetch(t, sq, clip.frames)
        seg = keep_segment(clip.frames, find_cuts(src.path, t, clip.frames, on_frame=pf), 30)
        kept, ious, median = _old_check(det, src.path, t, sq, seg)
        grabbed.clear()
        monkeypatch.setattr(F, "grab", counting_grab)
        try:
            score = F.check(det, src.path, t, sq, seg, prefetched=pf.squares)
            new = (True, score.ious, score.iou)
        except Rejected as r:
            assert r.reason == F.NO_FACE
            new = (False, r.values["face_ious"], r.values["face_iou"])
        monkeypatch.setattr(F, "grab", real_grab)
        assert new == (kept, ious, median), (name, a, b)
        wanted = {t.file_frame(o) for o in F.sample_frames(seg, F.SAMPLES)}
        assert grabbed == ([sorted(wanted - set(pf.squares))] if wanted - set(pf.squares) else []), name  # only what the pass missed
        decisions.append((kept, bool(seg.cuts), bool(grabbed)))
    # the cases cover: kept without decoding again, kept after a cut with some frames decoded again, dropped twice
    assert decisions == [(True, False, False), (True, True, True), (False, False, False), (False, False, False)]
