"""``evaluate(pred, gt, options)``: decode each pair once, run every requested metric, summarise.

Per video the frames are decoded once in batches of ``batch_size`` and shared by all metrics;
each frame is detected once per landmark backend. Ground-truth features (landmarks, identity
embeddings) come from a content cache keyed by the GT file's sha256, the backbone id, the weight
hashes, the frame count and the resize, so scoring many models against one test set analyses the
GT once. Under ``torchrun`` each rank scores a strided shard of the (sorted) pairs; results are
gathered, de-duplicated by key and summarised in key order, so the numbers do not depend on the
number of processes.

Networks see one frame at a time on CPU (batching does not pay there and per-frame calls make
results bit-identical whatever ``batch_size``); on CUDA they see the decode batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import torch

from vhq import console, distributed
from vhq.io import video
from vhq.io.cache import ContentCache, file_digest, make_key
from vhq.errors import BadInput, MediaError, VhqError

from eval import catalog, pairing
from eval.functional import keypoints as kpf
from eval.functional.identity import aed_per_frame
from eval.functional.l1 import l1_per_frame
from eval.functional.lpips import lpips_per_frame
from eval.metrics import FrameMean, Keypoints

RESIZE_FILTER = "bilinear+antialias (torch interpolate, align_corners=False), rounded to uint8"
CACHE_NAMESPACE = "eval-gt"


@dataclass
class EvalOptions:
    metrics: list[catalog.MetricSpec] = field(default_factory=lambda: catalog.parse_metrics(None))
    protocol: str = catalog.DEFAULT_PROTOCOL
    size: int | None = None
    batch_size: int = 16
    aed_crop: str = "frame"
    aed_distance: str = "squared"
    device: str = "cpu"
    use_cache: bool = True

    def __post_init__(self) -> None:
        catalog.check_protocol(self.protocol)
        if self.size is not None and self.size < 16:
            raise BadInput(f"--size {self.size}: must be at least 16 pixels")
        if self.batch_size < 1:
            raise BadInput(f"--batch-size {self.batch_size}: must be >= 1")
        if self.aed_crop not in catalog.AED_CROPS:
            raise BadInput(f"--aed-crop {self.aed_crop!r}", f"choose one of: {', '.join(catalog.AED_CROPS)}")
        if self.aed_distance not in catalog.AED_DISTANCES:
            raise BadInput(f"--aed-distance {self.aed_distance!r}", f"choose one of: {', '.join(catalog.AED_DISTANCES)}")

    def column(self, spec: catalog.MetricSpec) -> str:
        return spec.column(self.aed_crop, self.aed_distance)

    def params(self) -> dict:
        """Protocol parameters recorded with every summary/leaderboard row."""
        p = {"size": self.size or "native", "resize": RESIZE_FILTER if self.size else "none"}
        if any(s.family == "identity" for s in self.metrics):
            p.update(aed_crop=self.aed_crop, aed_distance=self.aed_distance)
        return p


def resize_frames(frames: torch.Tensor, size: int | None) -> torch.Tensor:
    """uint8 ``[T,H,W,3]`` → ``[T,size,size,3]`` (bilinear, antialiased, rounded); no-op when already there."""
    if size is None or tuple(frames.shape[1:3]) == (size, size):
        return frames
    x = frames.permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


class Backends:
    """The networks the requested metrics need, loaded once (MissingWeights before any scoring)."""

    def __init__(self, opts: EvalOptions):
        self.opts = opts
        self.lpips = None
        self.landmarks: dict[str, object] = {}
        self.identity = None
        for spec in opts.metrics:
            if spec.backend == "lpips" and self.lpips is None:
                from eval.backbones.lpips_alex import LpipsAlex

                self.lpips = LpipsAlex.from_registry(opts.device)
            elif spec.family == "landmarks" and spec.backend not in self.landmarks:
                if spec.backend == "fan2d":
                    from eval.backbones.fan import FanLandmarker

                    self.landmarks["fan2d"] = FanLandmarker(opts.device)
                else:
                    from eval.backbones.dlib68 import Dlib68Landmarker

                    self.landmarks["dlib68"] = Dlib68Landmarker()
            elif spec.family == "identity" and self.identity is None:
                from eval.backbones.facenet import IdentityEmbedder

                self.identity = IdentityEmbedder(opts.aed_crop, opts.device)

    @property
    def net_batch(self) -> int:
        return self.opts.batch_size if str(self.opts.device).startswith("cuda") else 1

    def backbone(self, spec: catalog.MetricSpec) -> tuple[str, dict]:
        """(backbone id, provenance) of a metric."""
        if spec.family == "l1":
            return "none", {"weight": "", "weight_sha256": "", "weight_verified": "", "weight_state": ""}
        if spec.family == "lpips":
            return self.lpips.backbone_id, self.lpips.provenance()
        if spec.family == "landmarks":
            b = self.landmarks[spec.backend]
            return b.backbone_id, b.provenance()
        return self.identity.backbone_id, self.identity.provenance()


@dataclass
class VideoResult:
    key: str
    frames: int
    row: dict  # per_video.csv values
    stats: dict[str, dict[str, float]]  # accumulator states per family/backend


def _micro(frames: torch.Tensor, n: int):
    for i in range(0, frames.shape[0], n):
        yield frames[i : i + n]


def _aligned_batches(pair: pairing.Pair, batch_size: int):
    pit = video.iter_frames(pair.pred, batch_size=batch_size, count=pair.frames)
    git = video.iter_frames(pair.gt, batch_size=batch_size, count=pair.frames)
    for p, g in zip(pit, git, strict=False):
        if p.shape[0] != g.shape[0]:
            raise MediaError(f"{pair.pred}: decoded frame batches do not line up with {pair.gt}")
        yield p, g


def _gt_key(pair: pairing.Pair, opts: EvalOptions, kind: str, backbone_id: str, prov: dict) -> str:
    return make_key(kind=kind, gt=file_digest(pair.gt), backbone=backbone_id, weights=prov["weight_sha256"], frames=pair.frames, size=opts.size, resize=RESIZE_FILTER)


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return repr(float(v))


def _check_finite(values: torch.Tensor, name: str, pair: pairing.Pair, allowed_nan: torch.Tensor | None = None) -> None:
    bad = ~torch.isfinite(values)
    if allowed_nan is not None:
        bad &= ~allowed_nan
    if bad.any():
        t = int(bad.nonzero()[0])
        raise MediaError(f"{pair.pred}: frame {t} gives a non-finite {name} (NaN/inf) against {pair.gt}", "check the frames for corrupt or constant content; nothing was written")


def score_video(pair: pairing.Pair, opts: EvalOptions, nets: Backends, cache: ContentCache | None) -> VideoResult:
    """Every requested metric on one pred/GT pair."""
    fams = {s.family for s in opts.metrics}
    lm_backends = sorted({s.backend for s in opts.metrics if s.family == "landmarks"})
    gt_lm: dict[str, dict | None] = {}
    lm_keys: dict[str, str] = {}
    for b in lm_backends:
        net = nets.landmarks[b]
        lm_keys[b] = _gt_key(pair, opts, "landmarks", net.backbone_id, net.provenance())
        gt_lm[b] = cache.get(lm_keys[b]) if cache else None
    gt_emb = None
    if "identity" in fams:
        emb_key = _gt_key(pair, opts, "identity", nets.identity.backbone_id, nets.identity.provenance())
        gt_emb = cache.get(emb_key) if cache else None

    l1_v, lp_v, p_emb, g_emb = [], [], [], []
    p_lm: dict[str, list] = {b: [] for b in lm_backends}
    g_lm: dict[str, list] = {b: [] for b in lm_backends}
    done = 0
    for p, g in _aligned_batches(pair, opts.batch_size):
        p, g = resize_frames(p, opts.size), resize_frames(g, opts.size)
        if "l1" in fams:
            l1_v.append(l1_per_frame(p, g))
        if "lpips" in fams:
            lp_v += [lpips_per_frame(a, b, nets.lpips) for a, b in zip(_micro(p, nets.net_batch), _micro(g, nets.net_batch))]
        for b in lm_backends:
            p_lm[b] += nets.landmarks[b].analyse(p)
            if gt_lm[b] is None:
                g_lm[b] += nets.landmarks[b].analyse(g)
        if "identity" in fams:
            p_emb += [nets.identity.embed(x) for x in _micro(p, nets.net_batch)]
            if gt_emb is None:
                g_emb += [nets.identity.embed(x) for x in _micro(g, nets.net_batch)]
        done += p.shape[0]
    if done != pair.frames:
        raise MediaError(f"{pair.pred}: decoded {done} frames, expected {pair.frames}")

    row: dict = {"key": pair.key, "frames": pair.frames}
    stats: dict[str, dict[str, float]] = {}

    def mean_stats(name: str, values: torch.Tensor, allowed_nan=None) -> float:
        _check_finite(values, name, pair, allowed_nan)
        acc = FrameMean()
        acc.update_values(values)
        stats[name] = acc.state_dict()
        return acc.compute("frame")

    if "l1" in fams:
        row["l1"] = _fmt(mean_stats("l1", torch.cat(l1_v)))
    if "lpips" in fams:
        row["lpips_alex"] = _fmt(mean_stats("lpips_alex", torch.cat(lp_v)))
    for b in lm_backends:
        if gt_lm[b] is None:
            kf = kpf.KeypointFrames.from_list(g_lm[b])
            gt_lm[b] = {"points": kf.points, "found": kf.found}
            if cache:
                cache.put(lm_keys[b], gt_lm[b])
        gk = kpf.KeypointFrames(gt_lm[b]["points"], gt_lm[b]["found"])
        pk = kpf.KeypointFrames.from_list(p_lm[b])
        acc = Keypoints()
        acc.update(pk, gk)
        stats[f"landmarks_{b}"] = acc.state_dict()
        row[f"akd_{b}"] = _fmt(acc.akd())
        row[f"akd_{b}_frames"] = int(acc.akd_frames)
        row[f"mkr_face_{b}"] = _fmt(acc.mkr())
        row[f"{b}_gt_noface"] = int(acc.gt_missing)
        row[f"{b}_pred_noface"] = int(acc.pred_missing)
    if "identity" in fams:
        if gt_emb is None:
            gt_emb = torch.cat(g_emb)
            if cache:
                cache.put(emb_key, gt_emb)
        pe = torch.cat(p_emb)
        d = aed_per_frame(pe, gt_emb, squared=opts.aed_distance == "squared")
        noface = torch.isnan(pe).any(1) | torch.isnan(gt_emb).any(1)
        col = opts.column(catalog.METRICS["aed"])
        row[col] = _fmt(mean_stats("identity", d, allowed_nan=noface if opts.aed_crop == "mtcnn" else None))
        if opts.aed_crop == "mtcnn":
            row[f"{col}_frames"] = int((~noface).sum())
    return VideoResult(pair.key, pair.frames, row, stats)


@dataclass
class EvalResult:
    pairset: pairing.PairSet
    results: list[VideoResult]  # sorted by key
    summary: list[dict]  # one row per metric (no model/test-set columns)
    columns: list[str]  # per_video.csv columns


def per_video_columns(opts: EvalOptions) -> list[str]:
    cols = ["key", "frames"]
    fams = [s.family for s in opts.metrics]
    if "l1" in fams:
        cols.append("l1")
    if "lpips" in fams:
        cols.append("lpips_alex")
    for b in sorted({s.backend for s in opts.metrics if s.family == "landmarks"}):
        cols += [f"akd_{b}", f"akd_{b}_frames", f"mkr_face_{b}", f"{b}_gt_noface", f"{b}_pred_noface"]
    if "identity" in fams:
        col = opts.column(catalog.METRICS["aed"])
        cols.append(col)
        if opts.aed_crop == "mtcnn":
            cols.append(f"{col}_frames")
    return cols


def summarise(results: list[VideoResult], opts: EvalOptions, nets: Backends) -> list[dict]:
    """Fold per-video statistics (in key order) into one row per requested metric."""
    out = []
    for spec in opts.metrics:
        weighting = spec.weighting(opts.protocol)
        backbone, prov = nets.backbone(spec)
        details: dict = {}
        if spec.family == "landmarks":
            acc = Keypoints()
            for r in results:
                acc.update_stats(r.stats[f"landmarks_{spec.backend}"])
            value = acc.akd(weighting) if spec.kind == "akd" else acc.mkr(weighting)
            n_frames = int(acc.akd_frames if spec.kind == "akd" else acc.gt_face_frames)
            n_videos = int(acc.akd_videos if spec.kind == "akd" else acc.mkr_videos)
            details = {"gt_noface_frames": int(acc.gt_missing), "pred_noface_frames": int(acc.pred_missing), "missed_frames": int(acc.missed_frames), "both_face_frames": int(acc.akd_frames)}
        else:
            name = {"l1": "l1", "lpips": "lpips_alex", "identity": "identity"}[spec.family]
            acc = FrameMean()
            for r in results:
                part = FrameMean()
                for k, v in r.stats[name].items():
                    setattr(part, k, torch.tensor(v, dtype=torch.float64))
                acc.merge(part)
            value = acc.compute(weighting)
            n_frames, n_videos = int(acc.frame_count), int(acc.video_count)
        out.append({
            "metric": opts.column(spec),
            "value": value,
            "higher_is_better": spec.higher_is_better,
            "protocol": opts.protocol,
            "weighting": weighting,
            "params": json.dumps(opts.params(), sort_keys=True),
            "n_videos": n_videos,
            "n_frames": n_frames,
            "backbone": backbone,
            **{k: prov[k] for k in ("weight", "weight_sha256", "weight_verified", "weight_state")},
            "details": json.dumps(details, sort_keys=True) if details else "",
        })
    return out


def evaluate(pred_root, gt_root, opts: EvalOptions, *, allow_missing: bool = False, truncate: bool = False, progress: bool = True) -> EvalResult:
    """Score every pred/GT pair; identical results on every rank (gathered, key-ordered)."""
    pairset = pairing.match(pred_root, gt_root, allow_missing=allow_missing, truncate=truncate, resize=opts.size is not None)
    nets = Backends(opts)
    cache = ContentCache(CACHE_NAMESPACE) if opts.use_cache else None
    mine = pairset.pairs[distributed.rank() :: distributed.world_size()]
    results: list[VideoResult] = []
    error: tuple[str, str, str | None] | None = None
    try:
        for pair in console.progress(mine, total=len(mine), desc="eval", enabled=None if progress else False):
            results.append(score_video(pair, opts, nets, cache))
    except VhqError as e:
        if not distributed.is_distributed():
            raise
        error = (type(e).__name__, e.message, e.hint)
    gathered = distributed.all_gather_objects((results, error))
    for _, err in gathered:
        if err is not None:
            cls = MediaError if err[0] == "MediaError" else (BadInput if err[0] == "BadInput" else VhqError)
            raise cls(err[1], err[2])
    by_key: dict[str, VideoResult] = {}
    for rs, _ in gathered:
        for r in rs:
            by_key.setdefault(r.key, r)
    ordered = [by_key[k] for k in sorted(by_key)]
    return EvalResult(pairset, ordered, summarise(ordered, opts, nets), per_video_columns(opts))
