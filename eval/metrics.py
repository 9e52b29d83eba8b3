"""Streaming accumulators over the functional metrics, importable from a training loop.

Each accumulator declares its states (float64 scalars) and how they reduce across ranks
(``sum`` for all of them here: the paired metrics are means, so sums and counts are sufficient
statistics). ``update`` takes one video (or one batch of frames of a video: ``end_video()``
closes it), ``compute()`` returns the value under a weighting, ``reset()`` restores the declared
defaults, ``sync()`` all-reduces the states under ``torchrun``, ``merge(other)`` folds another
accumulator in (the same reduction, used when per-video results are gathered as objects).

Weightings: ``"frame"`` averages over every frame of every video (FOMM, pose-evaluation);
``"video"`` averages the per-video means (LIA's L1/LPIPS).

    >>> acc = L1()
    >>> acc.update(pred_video_uint8, gt_video_uint8)
    >>> acc.compute("video")
"""

from __future__ import annotations

from typing import ClassVar

import torch

from vhq import distributed

from eval.functional import keypoints as kpf
from eval.functional.identity import aed_per_frame
from eval.functional.l1 import l1_per_frame
from eval.functional.lpips import lpips_per_frame

WEIGHTINGS = ("frame", "video")


class Accumulator:
    """Base: declared float64 states with a cross-rank reduction."""

    states: ClassVar[dict[str, str]] = {}  # name -> reduction ("sum")
    higher_is_better: ClassVar[bool] = False

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        for name in self.states:
            setattr(self, name, torch.zeros((), dtype=torch.float64))

    def state_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in self.states}

    def merge(self, other: "Accumulator") -> "Accumulator":
        for name, red in self.states.items():
            if red != "sum":
                raise NotImplementedError(red)
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def sync(self) -> None:
        """All-reduce every state across ranks (a no-op outside torchrun)."""
        if not distributed.is_distributed():
            return
        names = list(self.states)
        flat = torch.stack([getattr(self, n) for n in names])
        distributed.all_reduce_sum(flat)
        for n, v in zip(names, flat):
            setattr(self, n, v.clone())


class FrameMean(Accumulator):
    """Mean of per-frame values, frame- or video-weighted. Per-frame NaN values are skipped."""

    states = {"frame_sum": "sum", "frame_count": "sum", "video_sum": "sum", "video_count": "sum"}

    def __init__(self) -> None:
        super().__init__()
        self._open_sum = 0.0
        self._open_count = 0.0

    def update_values(self, values: torch.Tensor, end_video: bool = True) -> None:
        """Add per-frame values of the current video; ``end_video`` closes it."""
        v = values.to(torch.float64).flatten()
        v = v[~torch.isnan(v)]
        s, n = v.sum(), float(v.numel())
        self.frame_sum = self.frame_sum + s
        self.frame_count = self.frame_count + n
        self._open_sum += float(s)
        self._open_count += n
        if end_video:
            self.end_video()

    def end_video(self) -> None:
        if self._open_count:
            self.video_sum = self.video_sum + self._open_sum / self._open_count
            self.video_count = self.video_count + 1.0
        self._open_sum = 0.0
        self._open_count = 0.0

    def reset(self) -> None:
        super().reset()
        self._open_sum = 0.0
        self._open_count = 0.0

    def compute(self, weighting: str = "frame") -> float:
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")
        num, den = (self.frame_sum, self.frame_count) if weighting == "frame" else (self.video_sum, self.video_count)
        return float(num / den) if float(den) else float("nan")


class L1(FrameMean):
    """L1 on [0,1] frames (``eval.functional.l1_per_frame``)."""

    def update(self, pred: torch.Tensor, gt: torch.Tensor, end_video: bool = True) -> None:
        self.update_values(l1_per_frame(pred, gt), end_video)


class LPIPS(FrameMean):
    """LPIPS-Alex v0.1 with a loaded ``eval.backbones.lpips_alex.LpipsAlex``."""

    def __init__(self, net) -> None:
        super().__init__()
        self.net = net

    def update(self, pred: torch.Tensor, gt: torch.Tensor, end_video: bool = True) -> None:
        self.update_values(lpips_per_frame(pred, gt, self.net), end_video)


class AED(FrameMean):
    """Squared (default) L2 between identity embeddings of pred and GT frames."""

    def __init__(self, squared: bool = True) -> None:
        super().__init__()
        self.squared = squared

    def update(self, pred_emb: torch.Tensor, gt_emb: torch.Tensor, end_video: bool = True) -> None:
        self.update_values(aed_per_frame(pred_emb, gt_emb, self.squared), end_video)


class Keypoints(Accumulator):
    """AKD and face MKR from landmarks of both sides (``eval.functional.keypoints``).

    AKD is frame-weighted over frames with a face on both sides (pose-evaluation ``cmp_kp.py``);
    ``compute("video")`` averages per-video AKDs instead. MKR = missed / GT frames with a face.
    """

    states = {
        "akd_sum": "sum", "akd_frames": "sum", "akd_video_sum": "sum", "akd_videos": "sum",
        "gt_face_frames": "sum", "missed_frames": "sum", "gt_missing": "sum", "pred_missing": "sum",
        "mkr_video_sum": "sum", "mkr_videos": "sum",
    }

    def update(self, pred: kpf.KeypointFrames, gt: kpf.KeypointFrames) -> None:
        self.update_stats(kpf.keypoint_frame_stats(pred, gt))

    def update_stats(self, st: dict[str, float]) -> None:
        for k in ("akd_sum", "akd_frames", "gt_face_frames", "missed_frames", "gt_missing", "pred_missing"):
            setattr(self, k, getattr(self, k) + st[k])
        if st["akd_frames"]:
            self.akd_video_sum = self.akd_video_sum + st["akd_sum"] / st["akd_frames"]
            self.akd_videos = self.akd_videos + 1.0
        if st["gt_face_frames"]:
            self.mkr_video_sum = self.mkr_video_sum + st["missed_frames"] / st["gt_face_frames"]
            self.mkr_videos = self.mkr_videos + 1.0

    def compute(self, weighting: str = "frame") -> float:
        return self.akd(weighting)

    def akd(self, weighting: str = "frame") -> float:
        num, den = (self.akd_sum, self.akd_frames) if weighting == "frame" else (self.akd_video_sum, self.akd_videos)
        return float(num / den) if float(den) else float("nan")

    def mkr(self, weighting: str = "frame") -> float:
        num, den = (self.missed_frames, self.gt_face_frames) if weighting == "frame" else (self.mkr_video_sum, self.mkr_videos)
        return float(num / den) if float(den) else float("nan")
