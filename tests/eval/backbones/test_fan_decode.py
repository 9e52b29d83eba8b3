"""The vectorised S3FD/FAN decoding equals face-alignment's own functions, number for number.

face-alignment (installed) is the reference oracle: its per-anchor S3FD decoding, its NMS, its
numba heatmap decoder and its ``get_landmarks_from_image``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eval.backbones import fan_decode as D


def _s3fd_outputs(seed: int, size: int, spread: float) -> list[torch.Tensor]:
    """Class logits and box offsets shaped like S3FD's six levels for a ``size`` × ``size`` image."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for level in range(6):
        n = size // 2 ** (level + 2)
        out.append(torch.randn(1, 2, n, n, generator=g) * spread)
        out.append(torch.randn(1, 4, n, n, generator=g))
    return out


@pytest.mark.parametrize("seed,spread", [(0, 1.0), (1, 3.0), (2, 6.0)])
def test_candidates_and_nms_equal_face_alignment(seed, spread):
    from face_alignment.detection.sfd.bbox import nms
    from face_alignment.detection.sfd.detect import get_predictions

    outs = _s3fd_outputs(seed, 128, spread)
    ref = get_predictions([torch.softmax(o, dim=1).numpy() if i % 2 == 0 else o.numpy() for i, o in enumerate(outs)], 1)[0]
    ours = D.s3fd_candidates(outs)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape and len(ours) > 10
    np.testing.assert_array_equal(ours, ref)
    assert D.nms(ours) == [int(i) for i in nms(ref, 0.3)]


def test_no_candidate_is_no_face():
    outs = [torch.full_like(o, -50.0) if i % 2 == 0 else o for i, o in enumerate(_s3fd_outputs(0, 64, 1.0))]
    for i in range(0, len(outs), 2):
        outs[i][:, 0] = 50.0  # background wins everywhere
    assert D.s3fd_candidates(outs).shape == (0, 5)
    assert D.best_face(outs, 0.5) is None


def _heatmaps(seed: int) -> torch.Tensor:
    """68 heatmaps with a blob each (some on the border, some with tied neighbours), plus noise."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    centres = torch.randint(0, 64, (68, 2), generator=g).float()
    centres[:4] = torch.tensor([[0.0, 10.0], [63.0, 20.0], [30.0, 0.0], [5.0, 63.0]])
    hm = torch.exp(-((xx - centres[:, 0, None, None]) ** 2 + (yy - centres[:, 1, None, None]) ** 2) / 4.0)
    hm = hm + 0.01 * torch.rand(68, 64, 64, generator=g)
    hm[10] = 0.5  # a flat map: the first pixel wins, no neighbour is higher
    hm[11, 20, 19:22] = 2.0  # ties around the peak: the sign is 0 on that axis
    return hm


@pytest.mark.parametrize("seed", range(4))
def test_heatmap_decoding_equals_the_numba_kernel(seed):
    from face_alignment.utils import get_preds_fromhm

    hm = _heatmaps(seed)
    rng = np.random.default_rng(seed)
    x1, y1 = rng.uniform(0, 300, 2)
    box = np.array([x1, y1, x1 + rng.uniform(40, 400), y1 + rng.uniform(40, 400), 0.9])
    center, scale = D.crop_frame(box, 195.0)
    preds, preds_img, _ = get_preds_fromhm(hm[None].numpy().copy(), center, scale)
    peaks = D.heatmap_peaks(hm)
    np.testing.assert_array_equal(peaks, preds[0])
    np.testing.assert_array_equal(D.peaks_to_image(peaks, center, scale), preds_img[0])


@pytest.mark.slow
def test_landmarker_equals_get_landmarks_from_image(eval_weights):
    """Whole path on random-init FAN/S3FD: our detect + landmarks == face-alignment's own calls."""
    from eval.backbones.fan import FanLandmarker
    from vhq.testing.synthetic import face_frames

    fan = FanLandmarker()
    for img in face_frames(3, size=128, face_scale=0.5, seed=4):
        ref_boxes = fan.fa.face_detector.detect_from_image(img.copy())
        box = fan.detect(img)
        if len(ref_boxes) == 0:
            assert box is None
            box = np.array([30.0, 28.0, 98.0, 100.0, 1.0])
        else:
            np.testing.assert_array_equal(box, np.asarray(ref_boxes[0], dtype=np.float64))
        ref = fan.fa.get_landmarks_from_image(img, detected_faces=[box])[0][:, :2]
        np.testing.assert_array_equal(fan.landmarks(img, box), np.asarray(ref, dtype=np.float64))
