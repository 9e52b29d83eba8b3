"""Distribution metrics over unpaired video sets: FVD (I3D), KVD, video FID (3D ResNeXt-101), ACD, csim.

``evaluate_distribution(pred_dir, real_dir, metrics, …)`` returns one summary row per metric. The
sets are *unpaired*: nothing is matched by key (cross-identity generation has no ground truth per
clip), and the two sets may differ in size.

- Features are accumulated as float64 sufficient statistics (sum, outer-product sum, count) that
  reduce with ``sum`` across torchrun ranks; per-clip features are kept too (gathered in key
  order) when KVD or multi-trial protocols need them.
- Real-set results are cached under a key of (content hash of the file list, backbone, weight
  sha256, protocol), so a leaderboard of many models featurises the real set once.
- Fewer than 2 videos, or videos shorter than the clip, are refused with a clear message. When N
  is not above the feature dimension the covariance is rank-deficient: a warning is printed and
  the row says so (N is always recorded).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

import vhq
from vhq.io import cache, files, video
from vhq import console, distributed, weights
from vhq.errors import BadInput

from eval.functional import frechet, identity_stats, kernel
from eval.video_protocols import Clip, ClipProtocol, FID_PROTOCOLS, FVD_PROTOCOLS, extract_features, get_protocol, plan_clips, select_videos, write_clip_record

DISTRIBUTION_METRICS = ("fvd_i3d", "kvd", "fid_r3dx101", "acd", "csim")
HIGHER_IS_BETTER = {"fvd_i3d": False, "kvd": False, "fid_r3dx101": False, "acd": False, "csim": True}

SUMMARY_FIELDS = [
    "metric", "value", "std", "trials", "protocol", "n_pred", "n_real", "clips_pred", "clips_real",
    "frames", "stride", "clip_real", "clip_pred", "max_videos", "clips_per_trial", "first_frames",
    "resize", "size", "value_path", "cov", "fd_method", "kvd_mode", "acd_pairs", "seed",
    "backbone", "feature_dim", "weight", "weight_sha256", "weight_verified", "weight_state",
    "real_stats", "warning", "higher_is_better", "vhq_version",
]

BACKBONES = {
    # name → (weight entry, feature dim)
    "i3d": ("i3d_pretrained_400", 400),
    "r3dx101": ("resnext101_kinetics", 2048),
}


def load_backbone(backbone: str, weight: str, device) -> torch.nn.Module:
    if backbone == "i3d":
        from eval.backbones.i3d import load_i3d

        return load_i3d(weight, device)
    from eval.backbones.resnext3d import load_resnext101

    return load_resnext101(weight, device)


# ---------------------------------------------------------------- accumulation


@dataclass
class FeatureAccumulator:
    """Float64 sufficient statistics (reduced with ``sum``) plus, optionally, the features (``cat``)."""

    dim: int
    keep_features: bool = False
    total: torch.Tensor = field(init=False)
    outer: torch.Tensor = field(init=False)
    count: torch.Tensor = field(init=False)
    items: list = field(init=False, default_factory=list)  # (clip id, feature row)

    def __post_init__(self):
        self.total = torch.zeros(self.dim, dtype=torch.float64)
        self.outer = torch.zeros(self.dim, self.dim, dtype=torch.float64)
        self.count = torch.zeros((), dtype=torch.float64)

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
        if distributed.is_distributed():
            for t in (self.total, self.outer, self.count):
                distributed.all_reduce_sum(t)
            if self.keep_features:
                self.items = [it for part in distributed.all_gather_objects(self.items) for it in part]
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


def clip_id(c: Clip) -> str:
    return f"{c.key}@{c.start:08d}"


def accumulate(model, clips: Sequence[Clip], protocol: ClipProtocol, dim: int, keep_features: bool, device, batch_size: int, workers: int, desc: str) -> FeatureAccumulator:
    """Features of this rank's share of ``clips``, reduced over ranks."""
    mine = distributed_slice(clips)
    acc = FeatureAccumulator(dim, keep_features)
    if mine:
        feats = extract_features(model, mine, protocol, device=device, batch_size=batch_size, workers=workers, progress_desc=desc)
        acc.update(feats, [clip_id(c) for c in mine])
    return acc.reduce()


def distributed_slice(items: Sequence) -> list:
    from vhq.parallel import rank_slice

    return rank_slice(list(items), distributed.rank(), distributed.world_size())


# ---------------------------------------------------------------- real-set cache


def set_digest(videos: dict[str, Path]) -> str:
    """Content hash of a set: every (key, file digest), in key order."""
    parts = []
    for k in sorted(videos):
        parts += [k, cache.file_digest(videos[k])]
    return files.sha256_strings(parts)


def real_cache_key(videos: dict[str, Path], backbone: str, weight_sha256: str, protocol: ClipProtocol, keep_features: bool) -> str:
    return cache.make_key(
        kind="real_video_features", files=set_digest(videos), backbone=backbone, weight_sha256=weight_sha256,
        protocol=protocol.record(), features=keep_features,
    )


# ---------------------------------------------------------------- metrics from features


def _subsets(n: int, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    if cap is None or n <= cap:
        return rng.permutation(n)
    return rng.choice(n, cap, replace=False)


@dataclass
class TrialResult:
    values: list[float]
    clips_real: int
    clips_pred: int

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values)) if len(self.values) > 1 else 0.0


def fvd_trials(real: FeatureAccumulator, pred: FeatureAccumulator, protocol: ClipProtocol, fd_method: str, unbiased: bool) -> TrialResult:
    """FD per trial: the full sets in one pass, or ``clips_per_trial`` random clips per set per trial."""
    nr, npred = int(real.count.item()), int(pred.count.item())
    cap = protocol.clips_per_trial
    if protocol.trials == 1 and (cap is None or (nr <= cap and npred <= cap)):
        return TrialResult([frechet.frechet_distance_from_stats(real.stats, pred.stats, unbiased, fd_method)], nr, npred)
    fr, fp = real.features, pred.features
    values = []
    for t in range(protocol.trials):
        rng = np.random.default_rng(protocol.seed + t)
        a, b = fr[_subsets(len(fr), cap, rng)], fp[_subsets(len(fp), cap, rng)]
        values.append(frechet.frechet_distance_from_features(a, b, unbiased, fd_method))
    return TrialResult(values, min(nr, cap or nr), min(npred, cap or npred))


def kvd_trials(real: FeatureAccumulator, pred: FeatureAccumulator, protocol: ClipProtocol, mode: str) -> TrialResult:
    fr, fp = real.features, pred.features
    cap = protocol.clips_per_trial
    values = []
    for t in range(protocol.trials):
        rng = np.random.default_rng(protocol.seed + t)
        a, b = fr[_subsets(len(fr), cap, rng)], fp[_subsets(len(fp), cap, rng)]
        values.append(kernel.kernel_distance(b, a, mode=mode, seed=protocol.seed + t))
    return TrialResult(values, min(len(fr), cap or len(fr)), min(len(fp), cap or len(fp)))


# ---------------------------------------------------------------- identity metrics

Embedder = Callable[[torch.Tensor], np.ndarray]  # uint8 [T, H, W, 3] → [T, D]


def colour_mean_embedder(frames: torch.Tensor) -> np.ndarray:
    """MoCoGAN's content feature for non-face data: the mean RGB colour of each frame (0–1)."""
    return frames.double().mean(dim=(1, 2)).numpy() / 255.0


def embed_video(path: Path, embedder: Embedder, max_frames: int | None, batch_size: int = 16) -> np.ndarray:
    parts = [np.asarray(embedder(b), dtype=np.float64) for b in video.iter_frames(path, batch_size=batch_size, count=max_frames)]
    return np.concatenate(parts) if parts else np.zeros((0, 0))


def _source_image(source_dir: Path, key: str, sources: dict[str, Path]) -> torch.Tensor:
    for ext in video.FRAME_EXTS:
        p = source_dir / f"{key}{ext}"
        if p.is_file():
            return video.read_image(p)
    if key in sources:
        return video.read_frames(sources[key], 0, 1)[0]
    raise BadInput(f"no source image for generated video {key!r} in {source_dir}", f"expected {source_dir / key}.png (or a video/frame folder named {key})")


# ---------------------------------------------------------------- the entry point


@dataclass
class DistributionOptions:
    fvd_protocol: str = "stylegan-v"
    fid_protocol: str = "g3an"
    seed: int | None = None  # None: the protocol's own (DIGAN 42, others 0)
    trials: int | None = None
    max_videos: int | None = None
    first_frames: int | None = None  # LIA's cross-video option for video FID: 100
    frames: int | None = None
    stride: int | None = None
    size: int | None = None  # plumbing tests only; the protocols resize to 224 / 112
    cov: str | None = None  # "unbiased" | "biased"; None: the protocol's own
    fd_method: str = "eigen"
    kvd_mode: str = "full"
    acd_pairs: str = "all"
    acd_max_frames: int | None = None
    i3d_weight: str = "i3d_pretrained_400"
    r3dx101_weight: str = "resnext101_kinetics"
    batch_size: int = 8
    workers: int = 2
    device: str | None = None
    use_cache: bool = True
    record_dir: Path | None = None  # where the sampled clips are written as CSV

    def protocol(self, name: str, for_fid: bool) -> ClipProtocol:
        overrides = dict(seed=self.seed, trials=self.trials, max_videos=self.max_videos, frames=self.frames, stride=self.stride, size=self.size)
        if for_fid:
            overrides["first_frames"] = self.first_frames
        if self.cov is not None:
            if self.cov not in ("biased", "unbiased"):
                raise BadInput(f"unknown covariance normalisation {self.cov!r}", "choose biased (1/N) or unbiased (1/(N-1))")
            overrides["unbiased"] = self.cov == "unbiased"
        return get_protocol(name, **overrides)


def _videos(root, what: str) -> dict[str, Path]:
    if root is None:
        raise BadInput(f"the {what} set is required for these metrics")
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: {what} folder does not exist")
    vids = video.list_videos(root)
    if len(vids) < 2:
        raise BadInput(f"{root}: {len(vids)} {what} video(s); distribution metrics need at least 2", "point it at a folder of mp4 files or PNG frame folders")
    return vids


def _base_row(metric: str) -> dict:
    row = dict.fromkeys(SUMMARY_FIELDS, "")
    row.update(metric=metric, higher_is_better=HIGHER_IS_BETTER[metric], vhq_version=vhq.__version__)
    return row


def _protocol_fields(p: ClipProtocol) -> dict:
    return {
        "protocol": p.name, "frames": p.frames, "stride": p.stride, "clip_real": p.real_clips, "clip_pred": p.fake_clips,
        "max_videos": p.max_videos or "", "clips_per_trial": p.clips_per_trial or "", "first_frames": p.first_frames or "",
        "resize": p.resize, "size": p.size, "value_path": p.value_path, "seed": p.seed, "trials": p.trials,
    }


def _rank_warning(n: int, dim: int, what: str) -> str:
    if n > dim:
        return ""
    msg = f"{what}: N={n} clips is not above the feature dimension {dim}; the covariance is rank-deficient and the value is biased upward"
    console.warn(msg)
    return msg


def _feature_rows(metrics: Sequence[str], backbone: str, pred_videos, real_videos, protocol: ClipProtocol, opts: DistributionOptions) -> list[dict]:
    dim = BACKBONES[backbone][1]
    weight = opts.i3d_weight if backbone == "i3d" else opts.r3dx101_weight
    prov = weights.provenance(weight)
    weights.path(weight)  # a missing weight fails before any decoding
    want_kvd = "kvd" in metrics
    keep = want_kvd or protocol.trials > 1 or bool(protocol.clips_per_trial)
    real_clips = plan_clips(real_videos, protocol, "real")
    pred_clips = plan_clips(pred_videos, protocol, "fake")
    if opts.record_dir is not None and distributed.rank() == 0:
        rec = Path(opts.record_dir)
        write_clip_record(rec / f"clips_{backbone}_{protocol.name}_real.csv", real_clips, protocol, "real")
        write_clip_record(rec / f"clips_{backbone}_{protocol.name}_pred.csv", pred_clips, protocol, "fake")
    device = distributed.resolve_device(opts.device)
    model = None
    store = cache.ContentCache("real_video_stats")
    chosen = select_videos(real_videos, protocol)
    key = real_cache_key(chosen, backbone, prov["weight_sha256"], protocol, keep)
    cached = None
    if opts.use_cache:
        # An entry that kept the features also serves a run that needs only the statistics.
        for k in [key] + ([] if keep else [real_cache_key(chosen, backbone, prov["weight_sha256"], protocol, True)]):
            if (cached := store.get(k)) is not None:
                break
    if cached is not None:
        real = FeatureAccumulator.from_cache(cached, dim, keep)
        real_state = "cached"
    else:
        model = load_backbone(backbone, weight, device)
        real = accumulate(model, real_clips, protocol, dim, keep, device, opts.batch_size, opts.workers, f"{backbone} real")
        if opts.use_cache and distributed.rank() == 0:
            store.put(key, real.to_cache())
        real_state = "computed"
    if model is None:
        model = load_backbone(backbone, weight, device)
    pred = accumulate(model, pred_clips, protocol, dim, keep, device, opts.batch_size, opts.workers, f"{backbone} pred")

    common = {
        **_protocol_fields(protocol), **prov, "backbone": backbone, "feature_dim": dim, "real_stats": real_state,
        "n_pred": len({c.key for c in pred_clips}), "n_real": len({c.key for c in real_clips}),
    }
    rows = []
    fd_metric = "fvd_i3d" if backbone == "i3d" else "fid_r3dx101"
    if fd_metric in metrics:
        res = fvd_trials(real, pred, protocol, opts.fd_method, protocol.unbiased)
        warning = _rank_warning(min(res.clips_real, res.clips_pred), dim, fd_metric)
        row = _base_row(fd_metric)
        row.update(common, value=res.mean, std=res.std, clips_real=res.clips_real, clips_pred=res.clips_pred,
                   cov="unbiased" if protocol.unbiased else "biased", fd_method=opts.fd_method, warning=warning)
        rows.append(row)
    if want_kvd:
        res = kvd_trials(real, pred, protocol, opts.kvd_mode)
        row = _base_row("kvd")
        row.update(common, value=res.mean, std=res.std, clips_real=res.clips_real, clips_pred=res.clips_pred, kvd_mode=opts.kvd_mode)
        rows.append(row)
    return rows


def _identity_rows(metrics, pred_videos, source_dir, opts: DistributionOptions, embedder: Embedder | None, embedder_info: dict | None) -> list[dict]:
    if embedder is None:
        raise BadInput("acd/csim need an identity embedder", "pass embedder= (the facenet embedder) or use identity='colour_mean' for non-face data")
    info = embedder_info or {"backbone": "colour_mean"}
    keys = distributed_slice(sorted(pred_videos))
    rows = []
    if "acd" in metrics:
        mine = []
        for k in console.progress(keys, desc="acd embeddings"):
            e = embed_video(pred_videos[k], embedder, opts.acd_max_frames)
            if e.shape[0] < 2:
                raise BadInput(f"{pred_videos[k]}: {e.shape[0]} frame(s); ACD needs at least 2")
            mine.append((k, identity_stats.content_distance(e, opts.acd_pairs)))
        per_video = sorted(it for part in distributed.all_gather_objects(mine) for it in part)
        vals = np.array([v for _, v in per_video])
        row = _base_row("acd")
        row.update(info, value=float(vals.mean()), std=float(vals.std()), n_pred=len(vals), acd_pairs=opts.acd_pairs,
                   frames=opts.acd_max_frames or "all", protocol="mocogan")
        rows.append(row)
    if "csim" in metrics:
        if source_dir is None:
            raise BadInput("csim needs the source images (--source DIR: <key>.png per generated video)")
        source_dir = Path(source_dir)
        sources = video.list_videos(source_dir) if source_dir.is_dir() else {}
        mine = []
        for k in console.progress(keys, desc="csim embeddings"):
            src = np.asarray(embedder(_source_image(source_dir, k, sources)[None]), dtype=np.float64)[0]
            e = embed_video(pred_videos[k], embedder, opts.acd_max_frames)
            mine.append((k, float(identity_stats.cosine_similarity(src, e).mean())))
        per_video = sorted(it for part in distributed.all_gather_objects(mine) for it in part)
        vals = np.array([v for _, v in per_video])
        row = _base_row("csim")
        row.update(info, value=float(vals.mean()), std=float(vals.std()), n_pred=len(vals), frames=opts.acd_max_frames or "all", protocol="cosine")
        rows.append(row)
    return rows


def evaluate_distribution(
    pred_dir: str | os.PathLike,
    real_dir: str | os.PathLike | None,
    metrics: Iterable[str],
    options: DistributionOptions | None = None,
    source_dir: str | os.PathLike | None = None,
    embedder: Embedder | None = None,
    embedder_info: dict | None = None,
    **option_overrides,
) -> list[dict]:
    """Summary rows (``SUMMARY_FIELDS``) for ``metrics`` over an unpaired generated/real pair of sets.

    ``options`` (or keyword overrides of its fields) choose protocols, covariance, Fréchet
    method, KVD mode and devices. ``embedder`` (uint8 ``[T,H,W,3]`` → ``[T,D]``) and
    ``embedder_info`` (its backbone and weight provenance) serve ``acd`` and ``csim``.
    """
    metrics = list(dict.fromkeys(metrics))
    unknown = [m for m in metrics if m not in DISTRIBUTION_METRICS]
    if unknown:
        raise BadInput(f"unknown distribution metric(s): {', '.join(unknown)}", f"choose from: {', '.join(DISTRIBUTION_METRICS)}")
    opts = options or DistributionOptions()
    if option_overrides:
        from dataclasses import replace

        opts = replace(opts, **option_overrides)
    if opts.fvd_protocol not in FVD_PROTOCOLS:
        raise BadInput(f"unknown FVD protocol {opts.fvd_protocol!r}", f"choose one of: {', '.join(FVD_PROTOCOLS)}")
    if opts.fid_protocol not in FID_PROTOCOLS:
        raise BadInput(f"unknown video-FID protocol {opts.fid_protocol!r}", f"choose one of: {', '.join(FID_PROTOCOLS)}")
    if opts.fd_method not in frechet.FD_METHODS:
        raise BadInput(f"unknown Fréchet method {opts.fd_method!r}", f"choose one of: {', '.join(frechet.FD_METHODS)}")
    if opts.kvd_mode not in kernel.KVD_MODES:
        raise BadInput(f"unknown KVD mode {opts.kvd_mode!r}", f"choose one of: {', '.join(kernel.KVD_MODES)}")
    if opts.acd_pairs not in identity_stats.ACD_PAIRS:
        raise BadInput(f"unknown ACD pairing {opts.acd_pairs!r}", f"choose one of: {', '.join(identity_stats.ACD_PAIRS)}")
    pred_videos = _videos(pred_dir, "generated")
    rows: list[dict] = []
    i3d_metrics = [m for m in metrics if m in ("fvd_i3d", "kvd")]
    if i3d_metrics:
        real_videos = _videos(real_dir, "real")
        rows += _feature_rows(i3d_metrics, "i3d", pred_videos, real_videos, opts.protocol(opts.fvd_protocol, False), opts)
    if "fid_r3dx101" in metrics:
        real_videos = _videos(real_dir, "real")
        rows += _feature_rows(["fid_r3dx101"], "r3dx101", pred_videos, real_videos, opts.protocol(opts.fid_protocol, True), opts)
    id_metrics = [m for m in metrics if m in ("acd", "csim")]
    if id_metrics:
        rows += _identity_rows(id_metrics, pred_videos, source_dir, opts, embedder, embedder_info)
    order = {m: i for i, m in enumerate(metrics)}
    return sorted(rows, key=lambda r: order[r["metric"]])
