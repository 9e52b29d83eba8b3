"""Average keypoint distance (AKD) and missing-keypoint rate (MKR) for faces.

Semantics follow pose-evaluation's ``cmp_kp.py``: for each frame where both sides have landmarks,
score_t = mean over the 68×2 coordinates of |pred − gt| (mean absolute *coordinate* difference in
pixels, not the Euclidean distance); AKD is the mean of score_t over frames. pose-evaluation has no
face MKR (its script crashes on a GT frame without a face); ``mkr_face`` here is the share of GT
frames with a detected face whose prediction has none. Frames with no GT face are excluded and
counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class KeypointFrames:
    """Landmarks of one video: ``points [T,K,2]`` (float64, NaN where absent) and ``found [T]`` (bool)."""

    points: torch.Tensor
    found: torch.Tensor

    @classmethod
    def from_list(cls, per_frame: list, k: int = 68) -> "KeypointFrames":
        """From a list holding a ``[K,2]`` array or ``None`` per frame."""
        pts = torch.full((len(per_frame), k, 2), float("nan"), dtype=torch.float64)
        found = torch.zeros(len(per_frame), dtype=torch.bool)
        for t, p in enumerate(per_frame):
            if p is not None:
                pts[t] = torch.as_tensor(p, dtype=torch.float64).reshape(k, 2)
                found[t] = True
        return cls(pts, found)

    def __len__(self) -> int:
        return int(self.found.shape[0])


def akd_per_frame(pred: KeypointFrames, gt: KeypointFrames) -> torch.Tensor:
    """score_t for every frame (float64 ``[T]``), NaN where either side has no landmarks."""
    if pred.points.shape != gt.points.shape:
        raise ValueError(f"akd: landmark shapes differ: {tuple(pred.points.shape)} vs {tuple(gt.points.shape)}")
    both = pred.found & gt.found
    score = (pred.points - gt.points).abs().flatten(1).mean(1)
    return torch.where(both, score, torch.full_like(score, float("nan")))


def keypoint_frame_stats(pred: KeypointFrames, gt: KeypointFrames) -> dict[str, float]:
    """Sufficient statistics of one video for AKD and MKR (all float64 sums and counts).

    ``akd_sum`` / ``akd_frames``: sum of score_t and the number of frames with landmarks on both
    sides; ``gt_face_frames``: GT frames with a face; ``missed_frames``: those where the prediction
    has none (the MKR numerator); ``gt_missing`` / ``pred_missing``: frames with no detection on
    each side.
    """
    scores = akd_per_frame(pred, gt)
    both = ~torch.isnan(scores)
    return {
        "akd_sum": float(scores[both].sum().item()) if both.any() else 0.0,
        "akd_frames": float(both.sum().item()),
        "gt_face_frames": float(gt.found.sum().item()),
        "missed_frames": float((gt.found & ~pred.found).sum().item()),
        "gt_missing": float((~gt.found).sum().item()),
        "pred_missing": float((~pred.found).sum().item()),
    }
