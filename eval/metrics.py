"""Streaming accumulators over the functional metrics, importable from a training loop.

Every accumulator declares its states and how each reduces across ranks: ``sum`` (a float64
tensor, all-reduced) or ``cat`` (a list, gathered from every rank and concatenated in rank
order). The paired metrics are means, so sums and counts are sufficient statistics; the
distribution metrics keep the feature sum, outer-product sum and count (``sum``) and, when a
protocol resamples clips, the features themselves (``cat``). ``update`` adds data, ``compute()``
returns the value, ``reset()`` restores the declared defaults, ``sync()`` reduces the states under
``torchrun``, ``merge(other)`` folds another accumulator in with the same reductions (used when
per-video results are gathered as objects).

Weightings of the paired metrics: ``"frame"`` averages over every frame of every video (FOMM,
pose-evaluation); ``"video"`` averages the per-video means (LIA's L1/LPIPS).

    >>> acc = L1()
    >>> acc.update(pred_video_uint8, gt_video_uint8)
    >>> acc.compute("video")
"""

from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np
import torch

from eval.functional import frechet
from eval.functional import keypoints as kpf
from eval.functional.identity import aed_per_frame
from eval.functional.l1 import l1_per_frame
from eval.functional.lpips import lpips_per_frame
from vhq import distributed
from vhq.errors import BadInput

WEIGHTINGS = ("frame", "video")
REDUCTIONS = ("sum", "cat")


class Accumulator:
    """Base: declared states (name → ``"sum"`` | ``"cat"``) with their cross-rank reduction."""

    states: ClassVar[dict[str, str]] = {}
    higher_is_better: ClassVar[bool] = False

    def __init__(self) -> None:
        self.reset()

    def zeros(self, name: str) -> torch.Tensor:
        """The default of a ``sum`` state: a float64 zero (accumulators with vector states override this)."""
        return torch.zeros((), dtype=torch.float64)

    def reset(self) -> None:
        for name, red in self.states.items():
            if red not in REDUCTIONS:
                raise NotImplementedError(red)
            setattr(self, name, self.zeros(name) if red == "sum" else [])

    def state_dict(self) -> dict:
        """Scalar states as floats, tensor states as copies, list states as lists."""
        out = {}
        for name, red in self.states.items():
            v = getattr(self, name)
            out[name] = list(v) if red == "cat" else (float(v) if v.ndim == 0 else v.clone())
        return out

    def load_state_dict(self, state: dict) -> "Accumulator":
        for name, red in self.states.items():
            v = state[name]
            setattr(self, name, list(v) if red == "cat" else torch.as_tensor(v, dtype=torch.float64))
        return self

    def merge(self, other: "Accumulator") -> "Accumulator":
        for name in self.states:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def sync(self) -> None:
        """Reduce every state across ranks (a no-op outside torchrun): scalars in one all-reduce."""
        if not distributed.is_distributed():
            return
        sums = [n for n, red in self.states.items() if red == "sum"]
        scalars = [n for n in sums if getattr(self, n).ndim == 0]
        if scalars:
            flat = torch.stack([getattr(self, n) for n in scalars])
            distributed.all_reduce_sum(flat)
            for n, v in zip(scalars, flat):
                setattr(self, n, v.clone())
        for n in sums:
            if n not in scalars:
                distributed.all_reduce_sum(getattr(self, n))
        for n, red in self.states.items():
            if red == "cat":
                setattr(self, n, [it for part in distributed.all_gather_objects(getattr(self, n)) for it in part])


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


class FeatureAccumulator(Accumulator):
    """Float64 sufficient statistics of feature rows and, with ``keep_features``, the rows by clip id."""

    states = {"total": "sum", "outer": "sum", "count": "sum", "items": "cat"}  # items: (clip id, float32 row)

    def __init__(self, dim: int, keep_features: bool = False) -> None:
        self.dim = dim
        self.keep_features = keep_features
        super().__init__()

    def zeros(self, name: str) -> torch.Tensor:
        shape = {"total": (self.dim,), "outer": (self.dim, self.dim)}.get(name, ())
        return torch.zeros(shape, dtype=torch.float64)

    def update(self, features, ids: Sequence[str] | None = None) -> None:
        x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise BadInput(f"expected features [n, {self.dim}], got {tuple(x.shape)}")
        self.total += x.sum(0)
        self.outer += x.T @ x
        self.count += x.shape[0]
        if self.keep_features:
            ids = list(ids) if ids is not None else [str(len(self.items) + i) for i in range(x.shape[0])]
            self.items += list(zip(ids, x.numpy().astype(np.float32)))

    def reduce(self) -> "FeatureAccumulator":
        """Sum the statistics over ranks and gather the features (sorted by clip id); in place."""
        self.sync()
        self.items.sort(key=lambda it: it[0])
        return self

    @property
    def stats(self) -> frechet.SufficientStats:
        return frechet.SufficientStats(self.total.numpy().copy(), self.outer.numpy().copy(), int(self.count.item()))

    @property
    def features(self) -> np.ndarray:
        if not self.keep_features:
            raise BadInput("features were not kept for this set")
        return np.stack([f for _, f in self.items]).astype(np.float64) if self.items else np.zeros((0, self.dim))

    def to_cache(self) -> dict:
        out = {"total": self.total, "outer": self.outer, "count": self.count}
        if self.keep_features:
            out["ids"] = [i for i, _ in self.items]
            out["features"] = torch.from_numpy(np.stack([f for _, f in self.items])) if self.items else torch.zeros(0, self.dim)
        return out

    @classmethod
    def from_cache(cls, d: dict, dim: int, keep_features: bool) -> "FeatureAccumulator":
        acc = cls(dim, keep_features)
        acc.total, acc.outer, acc.count = d["total"], d["outer"], d["count"]
        if keep_features:
            acc.items = list(zip(d["ids"], d["features"].numpy()))
        return acc
