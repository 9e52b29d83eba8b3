"""S3FD box decoding and FAN heatmap decoding, vectorised, with face-alignment's exact outputs.

face-alignment decodes S3FD one candidate anchor at a time in Python and FAN heatmaps with numba
kernels that are JIT-compiled in every new process (10–20 s on two cores, longer under load).
These functions compute the same numbers with whole-array numpy operations in the same dtypes
and the same order (``tests/eval/backbones/test_fan_decode.py`` compares them with the library's
own functions), so AKD does not move while a fresh process scores its first frame at once.
"""

from __future__ import annotations

import numpy as np
import torch

S3FD_MEAN_BGR = (104.0, 117.0, 123.0)
S3FD_CANDIDATE_SCORE = 0.05  # anchors below this are never boxes
S3FD_VARIANCES = (0.1, 0.2)
NMS_IOU = 0.3
HEATMAP_SIZE = 64
PIXELS_PER_SCALE = 200.0  # a face "scale" of 1 spans 200 pixels
CENTER_Y_OFFSET = 0.12  # the crop centre sits this fraction of the box height above the box centre


def s3fd_input(frame: np.ndarray, device) -> torch.Tensor:
    """uint8 RGB ``[H,W,3]`` → the detector's ``[1,3,H,W]`` float BGR input minus the channel means."""
    x = torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1))[None]).to(device, dtype=torch.float32)
    return x.flip(-3) - torch.tensor(S3FD_MEAN_BGR, device=device).view(1, 3, 1, 1)


def s3fd_candidates(outputs: list[torch.Tensor]) -> np.ndarray:
    """``[N,5]`` float64 boxes ``x1,y1,x2,y2,score`` of every anchor above the candidate score, one image.

    ``outputs`` alternates class logits and box offsets per level (strides 4 … 128). Candidates
    are listed level by level, row-major within a level, as face-alignment lists them.
    """
    parts = []
    v0, v1 = S3FD_VARIANCES
    for level in range(len(outputs) // 2):
        cls = torch.softmax(outputs[2 * level], dim=1)[0, 1].cpu().numpy()
        reg = outputs[2 * level + 1][0].cpu().numpy()
        stride = 2 ** (level + 2)
        rows, cols = np.nonzero(cls > S3FD_CANDIDATE_SCORE)
        if rows.size == 0:
            continue
        priors = np.stack([stride / 2 + cols * stride, stride / 2 + rows * stride,
                           np.full(rows.size, stride * 4.0), np.full(rows.size, stride * 4.0)], axis=1).astype(np.float64)
        loc = reg[:, rows, cols].T
        boxes = np.concatenate((priors[:, :2] + loc[:, :2] * v0 * priors[:, 2:], priors[:, 2:] * np.exp(loc[:, 2:] * v1)), 1)
        boxes[:, :2] -= boxes[:, 2:] / 2
        boxes[:, 2:] += boxes[:, :2]
        parts.append(np.concatenate((boxes, cls[rows, cols][:, None]), axis=1))
    return np.concatenate(parts) if parts else np.zeros((0, 5))


def nms(dets: np.ndarray, iou: float = NMS_IOU) -> list[int]:
    """Greedy non-maximum suppression, highest score first, areas counted in whole pixels (+1)."""
    if len(dets) == 0:
        return []
    x1, y1, x2, y2, scores = (dets[:, i] for i in range(5))
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        overlap = w * h / (areas[i] + areas[rest] - w * h)
        order = rest[overlap <= iou]
    return keep


def best_face(outputs: list[torch.Tensor], min_score: float) -> np.ndarray | None:
    """The highest-score box after NMS whose score exceeds ``min_score``, as ``[x1,y1,x2,y2,score]``."""
    dets = s3fd_candidates(outputs)
    for i in nms(dets):
        if dets[i, 4] > min_score:
            return dets[i]
    return None


def crop_frame(box: np.ndarray, reference_scale: float) -> tuple[np.ndarray, float]:
    """The centre and scale of FAN's input crop for a detected box."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    center = np.array([x2 - (x2 - x1) / 2.0, y2 - (y2 - y1) / 2.0])
    center[1] = center[1] - (y2 - y1) * CENTER_Y_OFFSET
    return center, (x2 - x1 + y2 - y1) / reference_scale


def heatmap_peaks(heatmaps: torch.Tensor) -> np.ndarray:
    """``[K,64,64]`` heatmaps → ``[K,2]`` float32 peak positions in heatmap pixels.

    The arg-max, moved a quarter pixel towards the higher neighbour on each axis (interior peaks
    only), minus half a pixel.
    """
    hm = heatmaps.detach().to("cpu", torch.float32).numpy()
    k, height, width = hm.shape
    idx = hm.reshape(k, -1).argmax(axis=1)
    px, py = idx % width, idx // width
    pts = np.stack([px + 1, py + 1], axis=1).astype(np.float32)
    inner = (px > 0) & (px < width - 1) & (py > 0) & (py < height - 1)
    j = np.nonzero(inner)[0]
    x, y = px[j], py[j]
    diff = np.stack([hm[j, y, x + 1] - hm[j, y, x - 1], hm[j, y + 1, x] - hm[j, y - 1, x]], axis=1)
    pts[j] += np.sign(diff) * np.float32(0.25)
    pts -= np.float32(0.5)
    return pts


def peaks_to_image(peaks: np.ndarray, center: np.ndarray, scale: float, resolution: int = HEATMAP_SIZE) -> np.ndarray:
    """Heatmap positions → whole-pixel frame positions (float32), truncated towards zero as face-alignment does."""
    h = PIXELS_PER_SCALE * scale
    t = np.eye(3)
    t[0, 0] = resolution / h
    t[1, 1] = resolution / h
    t[0, 2] = resolution * (-center[0] / h + 0.5)
    t[1, 2] = resolution * (-center[1] / h + 0.5)
    inv = np.linalg.pinv(t)
    p = np.concatenate([peaks.astype(np.float64), np.ones((len(peaks), 1))], axis=1)
    out = (inv[:2, 0, None] * p[:, 0] + inv[:2, 1, None] * p[:, 1] + inv[:2, 2, None] * p[:, 2]).T
    return out.astype(np.int32).astype(np.float32)
