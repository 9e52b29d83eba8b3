"""``evaluate(pred, gt, options)``: decode each pair once, run every requested metric, summarise.

Per video the frames are decoded once in batches of ``batch_size`` (the next batch decodes in a
background thread while the networks run on this one) and shared by all metrics;
each frame is detected once per landmark backend. Ground-truth features (landmarks, identity
embeddings) come from a content cache keyed by the GT file's sha256, the backbone id, the weight
hashes, the first frame and frame count, and the resize, so scoring many models against one test
set analyses the GT once. Every summary row carries the inputs' provenance (``pairing.PairSet``:
encodings, rates, offset, counts; grayscale predictions; library versions). Under ``torchrun`` each rank scores a strided shard of the (sorted) pairs; results are
gathered, de-duplicated by key and summarised in key order, so the numbers do not depend on the
number of processes.

Networks see one frame at a time on CPU (batching does not pay there and per-frame calls make
results bit-identical whatever ``batch_size``); on CUDA they see the decode batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch

from eval import catalog, pairing
from eval.functional import keypoints as kpf
from eval.functional.identity import aed_per_frame
from eval.metrics import FrameMean, Keypoints
from eval.options import RESIZE_FILTER, EvalOptions
from vhq import console, distributed
from vhq.errors import BadInput, MediaError, VhqError
from vhq.io import video
from vhq.io.cache import ContentCache, file_digest, make_key
from vhq.parallel import prefetched

CACHE_NAMESPACE = "eval-gt"
NO_WEIGHTS = {"weight": "", "weight_sha256": "", "weight_verified": "", "weight_state": ""}


def resize_frames(frames: torch.Tensor, size: int | None) -> torch.Tensor:
    """uint8 ``[T,H,W,3]`` → ``[T,size,size,3]`` (bilinear, antialiased, rounded); no-op when already there."""
    if size is None or tuple(frames.shape[1:3]) == (size, size):
        return frames
    x = frames.permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def runtime_versions() -> dict[str, str]:
    """Versions of the libraries a paired score depends on ('' when not installed)."""
    from importlib import metadata

    out = {}
    for dist in ("torch", "face-alignment", "facenet-pytorch", "av"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = ""
    return out


def _micro(frames: torch.Tensor, n: int):
    for i in range(0, frames.shape[0], n):
        yield frames[i : i + n]


def _gt_key(pair: pairing.Pair, opts: EvalOptions, kind: str, net) -> str:
    return make_key(kind=kind, gt=file_digest(pair.gt), backbone=net.backbone_id, weights=net.provenance()["weight_sha256"],
                    start=pair.gt_start, frames=pair.frames, size=opts.size, resize=RESIZE_FILTER, device=torch.device(opts.device).type)


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


def _mean_stats(values: torch.Tensor, name: str, pair: pairing.Pair, allowed_nan: torch.Tensor | None = None) -> FrameMean:
    _check_finite(values, name, pair, allowed_nan)
    acc = FrameMean()
    acc.update_values(values)
    return acc


def _frame_means(results: list["VideoResult"], key: str) -> FrameMean:
    acc = FrameMean()
    for r in results:
        acc.merge(FrameMean().load_state_dict(r.stats[key]))
    return acc


# ---------------------------------------------------------------- scorers
# A scorer computes one or more metrics from one pass over a video's frames: ``start`` (before
# decoding: GT cache look-ups), ``add`` (each decoded batch), ``finish`` (per-video CSV values and
# accumulator states), ``summarise`` (one metric over every video's states).


class FramesScorer:
    """A metric whose per-frame values are ``per_frame(pred, gt)`` or ``per_frame(pred, gt, net)``."""

    sort_key = (0, "")

    def __init__(self, metric: catalog.Metric, opts: EvalOptions, net):
        self.metric, self.opts, self.net = metric, opts, net
        self.fn = catalog.resolve(metric.per_frame)
        self.column = opts.column(metric)

    def columns(self) -> list[str]:
        return [self.column]

    def serves(self, metric: catalog.Metric) -> bool:
        return metric is self.metric

    def backbone(self) -> tuple[str, dict]:
        return (self.net.backbone_id, self.net.provenance()) if self.net is not None else ("none", NO_WEIGHTS)

    def start(self, pair: pairing.Pair, cache: ContentCache | None) -> None:
        self.values: list[torch.Tensor] = []

    def add(self, p: torch.Tensor, g: torch.Tensor) -> None:
        if self.net is None:
            self.values.append(self.fn(p, g))
        else:
            n = _net_batch(self.opts)
            self.values += [self.fn(a, b, self.net) for a, b in zip(_micro(p, n), _micro(g, n))]

    def finish(self, pair: pairing.Pair, row: dict, stats: dict) -> None:
        acc = _mean_stats(torch.cat(self.values), self.column, pair)
        stats[self.column] = acc.state_dict()
        row[self.column] = _fmt(acc.compute("frame"))

    def summarise(self, metric: catalog.Metric, results: list["VideoResult"], weighting: str) -> tuple[float, int, int, dict]:
        acc = _frame_means(results, self.column)
        return acc.compute(weighting), int(acc.frame_count), int(acc.video_count), {}


class PerSideScorer:
    """Runs a network on each side's frames; the GT side comes from the cache when it can."""

    cache_kind = ""

    def backbone(self) -> tuple[str, dict]:
        return self.net.backbone_id, self.net.provenance()

    def start(self, pair: pairing.Pair, cache: ContentCache | None) -> None:
        self.cache = cache
        self.key = _gt_key(pair, self.opts, self.cache_kind, self.net)
        self.gt = cache.get(self.key, valid=lambda v: self.gt_valid(v, pair.frames)) if cache else None
        self.pred_parts: list = []
        self.gt_parts: list = []

    def add(self, p: torch.Tensor, g: torch.Tensor) -> None:
        self.pred_parts += self.analyse(p)
        if self.gt is None:
            self.gt_parts += self.analyse(g)

    def analyse(self, frames: torch.Tensor) -> list:  # pragma: no cover - interface
        raise NotImplementedError

    def gt_valid(self, entry, frames: int) -> bool:
        """Whether a cached GT entry has this video's shape (a stale or foreign entry is recomputed)."""
        return isinstance(entry, torch.Tensor) and entry.dim() == 2 and entry.shape[0] == frames

    def gt_result(self, build):
        """The GT side of this video: from the cache, or ``build(parts)`` and stored."""
        if self.gt is None:
            self.gt = build(self.gt_parts)
            if self.cache:
                self.cache.put(self.key, self.gt)
        return self.gt


class LandmarkScorer(PerSideScorer):
    """AKD and face MKR of one landmark backbone (``eval.functional.keypoints``)."""

    cache_kind = "landmarks"

    def __init__(self, metric: catalog.Metric, opts: EvalOptions, net):
        self.name, self.opts, self.net = metric.backbone.name, opts, net
        self.sort_key = (1, self.name)

    def columns(self) -> list[str]:
        b = self.name
        return [f"akd_{b}", f"akd_{b}_frames", f"mkr_face_{b}", f"{b}_gt_noface", f"{b}_pred_noface"]

    def serves(self, metric: catalog.Metric) -> bool:
        return metric.scorer == "landmarks" and metric.backbone.name == self.name

    def analyse(self, frames: torch.Tensor) -> list:
        return self.net.analyse(frames)

    def gt_valid(self, entry, frames: int) -> bool:
        if not isinstance(entry, dict) or not isinstance(entry.get("points"), torch.Tensor) or not isinstance(entry.get("found"), torch.Tensor):
            return False
        points, found = entry["points"], entry["found"]
        return points.dim() == 3 and points.shape[0] == frames and points.shape[2] == 2 and found.shape == (frames,)

    def finish(self, pair: pairing.Pair, row: dict, stats: dict) -> None:
        b = self.name

        def build(parts):
            kf = kpf.KeypointFrames.from_list(parts)
            return {"points": kf.points, "found": kf.found}

        gt = self.gt_result(build)
        acc = Keypoints()
        acc.update(kpf.KeypointFrames.from_list(self.pred_parts), kpf.KeypointFrames(gt["points"], gt["found"]))
        stats[f"landmarks_{b}"] = acc.state_dict()
        row[f"akd_{b}"] = _fmt(acc.akd())
        row[f"akd_{b}_frames"] = int(acc.akd_frames)
        row[f"mkr_face_{b}"] = _fmt(acc.mkr())
        row[f"{b}_gt_noface"] = int(acc.gt_missing)
        row[f"{b}_pred_noface"] = int(acc.pred_missing)

    def summarise(self, metric: catalog.Metric, results: list["VideoResult"], weighting: str) -> tuple[float, int, int, dict]:
        acc = Keypoints()
        for r in results:
            acc.update_stats(r.stats[f"landmarks_{self.name}"])
        details = {"gt_noface_frames": int(acc.gt_missing), "pred_noface_frames": int(acc.pred_missing),
                   "missed_frames": int(acc.missed_frames), "both_face_frames": int(acc.akd_frames)}
        if metric.measure == "akd":
            return acc.akd(weighting), int(acc.akd_frames), int(acc.akd_videos), details
        return acc.mkr(weighting), int(acc.gt_face_frames), int(acc.mkr_videos), details


class IdentityScorer(PerSideScorer):
    """AED: per-frame distance between identity embeddings of both sides."""

    cache_kind = "identity"

    def __init__(self, metric: catalog.Metric, opts: EvalOptions, net):
        self.metric, self.opts, self.net = metric, opts, net
        self.column = opts.column(metric)
        self.sort_key = (2, self.column)
        self.mtcnn = opts.aed_crop == "mtcnn"

    def columns(self) -> list[str]:
        return [self.column] + ([f"{self.column}_frames"] if self.mtcnn else [])

    def serves(self, metric: catalog.Metric) -> bool:
        return metric is self.metric

    def analyse(self, frames: torch.Tensor) -> list:
        return [self.net.embed(x) for x in _micro(frames, _net_batch(self.opts))]

    def finish(self, pair: pairing.Pair, row: dict, stats: dict) -> None:
        gt = self.gt_result(torch.cat)
        pe = torch.cat(self.pred_parts)
        d = aed_per_frame(pe, gt, squared=self.opts.aed_distance == "squared")
        noface = torch.isnan(pe).any(1) | torch.isnan(gt).any(1)
        acc = _mean_stats(d, "identity", pair, allowed_nan=noface if self.mtcnn else None)
        stats[self.column] = acc.state_dict()
        row[self.column] = _fmt(acc.compute("frame"))
        if self.mtcnn:
            row[f"{self.column}_frames"] = int((~noface).sum())

    def summarise(self, metric: catalog.Metric, results: list["VideoResult"], weighting: str) -> tuple[float, int, int, dict]:
        acc = _frame_means(results, self.column)
        return acc.compute(weighting), int(acc.frame_count), int(acc.video_count), {}


# per_video.csv lists frame metrics, then landmark sets by backbone name, then identity (``sort_key``)
SCORERS = {"frames": FramesScorer, "landmarks": LandmarkScorer, "identity": IdentityScorer}


def _net_batch(opts: EvalOptions) -> int:
    """Networks see the decode batch on CUDA, one frame at a time on CPU (bit-identical whatever ``batch_size``)."""
    return opts.batch_size if str(opts.device).startswith("cuda") else 1


def make_scorers(opts: EvalOptions) -> list:
    """The scorers of the requested metrics, their networks loaded once in metric order (MissingWeights before any scoring)."""
    nets: dict[str, object] = {}
    scorers = []
    for m in opts.metrics:
        net = None
        if m.backbone is not None:
            if m.backbone.name not in nets:
                extra = {"crop": opts.aed_crop} if m.scorer == "identity" else {}
                nets[m.backbone.name] = catalog.resolve(m.backbone.load)(device=opts.device, **extra)
            net = nets[m.backbone.name]
        if any(s.serves(m) for s in scorers):
            continue
        scorers.append(SCORERS[m.scorer](m, opts, net))
    return sorted(scorers, key=lambda s: s.sort_key)


@dataclass
class VideoResult:
    key: str
    frames: int
    row: dict  # per_video.csv values
    stats: dict[str, dict[str, float]]  # accumulator states per scorer
    grayscale_pred: bool = False  # every prediction frame has R = G = B while the GT has colour


def _grayscale(frames: torch.Tensor) -> bool:
    return bool((frames[..., 0] == frames[..., 1]).all() and (frames[..., 1] == frames[..., 2]).all())


def _aligned_batches(pair: pairing.Pair, batch_size: int):
    pit = video.iter_frames(pair.pred, batch_size=batch_size, start=pair.pred_start, count=pair.frames)
    git = video.iter_frames(pair.gt, batch_size=batch_size, start=pair.gt_start, count=pair.frames)
    for p, g in zip(pit, git, strict=False):
        if p.shape[0] != g.shape[0]:
            raise MediaError(f"{pair.pred}: decoded frame batches do not line up with {pair.gt}")
        yield p, g


def score_video(pair: pairing.Pair, opts: EvalOptions, scorers: list, cache: ContentCache | None) -> VideoResult:
    """Every requested metric on one pred/GT pair: the frames are decoded once and shared."""
    for s in scorers:
        s.start(pair, cache)
    done = 0
    gray_pred = gray_gt = True
    for p, g in prefetched(_aligned_batches(pair, opts.batch_size)):
        gray_pred = gray_pred and _grayscale(p)
        gray_gt = gray_gt and _grayscale(g)
        p, g = resize_frames(p, opts.size), resize_frames(g, opts.size)
        for s in scorers:
            s.add(p, g)
        done += p.shape[0]
    if done != pair.frames:
        raise MediaError(f"{pair.pred}: decoded {done} frames, expected {pair.frames}")
    row: dict = {"key": pair.key, "frames": pair.frames}
    stats: dict[str, dict[str, float]] = {}
    for s in scorers:
        s.finish(pair, row, stats)
    return VideoResult(pair.key, pair.frames, row, stats, gray_pred and not gray_gt)


@dataclass
class EvalResult:
    pairset: pairing.PairSet
    results: list[VideoResult]  # sorted by key
    summary: list[dict]  # one row per metric (no model/test-set columns)
    columns: list[str]  # per_video.csv columns


def per_video_columns(scorers: list) -> list[str]:
    return ["key", "frames"] + [c for s in scorers for c in s.columns()]


def summarise(results: list[VideoResult], opts: EvalOptions, scorers: list, pairset: pairing.PairSet | None = None,
              truncate: bool = False) -> list[dict]:
    """Fold per-video statistics (in key order) into one row per requested metric, with the inputs' provenance."""
    params = {**opts.params(), **(pairset.params(truncate) if pairset else {})}
    inputs = {**(pairset.details() if pairset else {}), "grayscale_pred_videos": sum(r.grayscale_pred for r in results),
              "versions": runtime_versions()}
    out = []
    for m in opts.metrics:
        scorer = next(s for s in scorers if s.serves(m))
        weighting = m.weighting_under(opts.protocol)
        value, n_frames, n_videos, details = scorer.summarise(m, results, weighting)
        backbone, prov = scorer.backbone()
        out.append({
            "metric": opts.column(m),
            "value": value,
            "higher_is_better": m.higher_is_better,
            "protocol": opts.protocol,
            "weighting": weighting,
            "params": json.dumps(params, sort_keys=True),
            "n_videos": n_videos,
            "n_frames": n_frames,
            "backbone": backbone,
            **{k: prov[k] for k in ("weight", "weight_sha256", "weight_verified", "weight_state")},
            "details": json.dumps({**details, **inputs}, sort_keys=True),
        })
    return out


def check_scored_size(pairset: pairing.PairSet, opts: EvalOptions) -> None:
    """Refuse before any network loads when the scored frames are smaller than a requested metric accepts."""
    if opts.size is not None:
        return
    small = [p for p in pairset.pairs if min(p.width, p.height) < opts.min_size]
    if small:
        p = small[0]
        raise BadInput(f"{p.gt}: {p.width}x{p.height} frames are smaller than {opts.min_size} pixels, the least {opts.min_size_reason()} accepts"
                       + (f" ({len(small)} videos)" if len(small) > 1 else ""), f"pass --size {opts.min_size} (or larger) to resize both sides")


def evaluate(pred_root, gt_root, opts: EvalOptions, *, allow_missing: bool = False, truncate: bool = False, offset: int | None = None,
             fps: float | None = None, allow_fps_mismatch: bool = False, progress: bool = True) -> EvalResult:
    """Score every pred/GT pair; identical results on every rank (gathered, key-ordered)."""
    pairset = pairing.match(pred_root, gt_root, allow_missing=allow_missing, truncate=truncate, resize=opts.size is not None,
                            offset=offset, fps=fps, allow_fps_mismatch=allow_fps_mismatch)
    check_scored_size(pairset, opts)
    scorers = make_scorers(opts)
    cache = ContentCache(CACHE_NAMESPACE) if opts.use_cache else None
    mine = pairset.pairs[distributed.rank() :: distributed.world_size()]
    results: list[VideoResult] = []
    error: tuple[str, str, str | None] | None = None
    try:
        for pair in console.progress(mine, total=len(mine), desc="eval", enabled=None if progress else False):
            results.append(score_video(pair, opts, scorers, cache))
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
    return EvalResult(pairset, ordered, summarise(ordered, opts, scorers, pairset, truncate), per_video_columns(scorers))
