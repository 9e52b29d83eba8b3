"""Distribution metrics over unpaired video sets: FVD (I3D, VideoMAE-v2), KVD, video FID (3D ResNeXt-101), ACD, csim.

``evaluate_distribution(pred_dir, real_dir, metrics, …)`` returns one summary row per metric. The
sets are *unpaired*: nothing is matched by key (cross-identity generation has no ground truth per
clip), and the two sets may differ in size.

- Features are accumulated as float64 sufficient statistics (sum, outer-product sum, count) that
  reduce with ``sum`` across torchrun ranks; per-clip features are kept too (gathered in key
  order) when KVD or multi-trial protocols need them.
- Real-set results are cached under a key of (content hash of the file list, backbone, weight
  sha256, protocol), so a leaderboard of many models featurises the real set once.
- ``real_stats`` (``vhq eval --real-stats FILE.pkl``) replaces the real set by published
  statistics (cd-fvd's ``FeatureStats`` pickles: Σx, Σxxᵀ, n), read with an unpickler that builds
  nothing but dicts, lists and numpy arrays; the file's sha256 goes into the row.
- Fewer than 2 videos, or videos shorter than the clip, are refused with a clear message. When N
  is not above the feature dimension the covariance is rank-deficient: a warning is printed and
  the row says so (N is always recorded).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch

import vhq
from eval import catalog
from eval.functional import frechet, identity_stats, kernel
from eval.metrics import FeatureAccumulator
from eval.options import DistributionOptions
from eval.video_protocols import (
    FID_PROTOCOLS,
    FVD_PROTOCOLS,
    VIDEOMAE_PROTOCOLS,
    Clip,
    ClipProtocol,
    extract_features,
    plan_clips,
    select_videos,
    write_clip_record,
)
from vhq import console, distributed, weights
from vhq.errors import BadInput
from vhq.io import cache, files, video

SUMMARY_FIELDS = [
    "metric", "value", "std", "trials", "protocol", "n_pred", "n_real", "clips_pred", "clips_real",
    "frames", "stride", "clip_real", "clip_pred", "max_videos", "clips_per_trial", "first_frames",
    "resize", "size", "value_path", "cov", "fd_method", "kvd_mode", "acd_pairs", "seed",
    "backbone", "feature_dim", "weight", "weight_sha256", "weight_verified", "weight_state",
    "clip_resolution", "resample_to", "real_stats", "real_stats_file", "real_stats_sha256", "warning",
    "higher_is_better", "vhq_version",
]


# ---------------------------------------------------------------- accumulation


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


def real_cache_key(videos: dict[str, Path], backbone: str, weight_sha256: str, protocol: ClipProtocol, keep_features: bool,
                   device: str = "cpu") -> str:
    """The real set's cache entry; ``device`` is the device type (GPU and CPU features differ by float32 rounding)."""
    real_side = {k: v for k, v in protocol.record().items() if k != "resample_to"}  # a generated-set rule
    return cache.make_key(
        kind="real_video_features", files=set_digest(videos), backbone=backbone, weight_sha256=weight_sha256,
        protocol=real_side, features=keep_features, device=device,
    )


# ---------------------------------------------------------------- published real-set statistics


class _StatsUnpickler(pickle.Unpickler):
    """Builds only what a numpy array pickle needs; any other class or function is refused."""

    ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    })

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refuses to build {module}.{name}")
        return super().find_class(module, name)


def _plain(obj, depth: int = 0) -> bool:
    """A tree of dicts/lists of numbers, strings, None and numeric numpy arrays."""
    if depth > 4:
        return False
    if obj is None or isinstance(obj, (bool, int, float, str, np.number)):
        return True
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind in "biuf"
    if isinstance(obj, (list, tuple)):
        return all(_plain(v, depth + 1) for v in obj)
    if isinstance(obj, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in obj.items())
    return False


@dataclass
class ImportedStats:
    stats: frechet.SufficientStats
    path: Path
    sha256: str


def read_real_stats(path: str | os.PathLike) -> ImportedStats:
    """cd-fvd's precomputed statistics: a dict with ``raw_mean`` (Σx), ``raw_cov`` (Σxxᵀ), ``num_items`` (n)."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: real-set statistics file does not exist")
    try:
        with open(path, "rb") as f:
            obj = _StatsUnpickler(f).load()
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad or unsafe file
        raise BadInput(f"{path}: not a statistics pickle of plain numpy arrays ({e.__class__.__name__}: {e})") from None
    if not isinstance(obj, dict) or not _plain(obj):
        raise BadInput(f"{path}: expected a dict of numpy arrays and numbers, found {type(obj).__name__} with other contents")
    missing = [k for k in ("raw_mean", "raw_cov", "num_items") if obj.get(k) is None]
    if missing:
        raise BadInput(f"{path}: statistics lack {', '.join(missing)}", "expected cd-fvd's FeatureStats fields raw_mean (sum), raw_cov (sum of outer products), num_items")
    total, outer = np.asarray(obj["raw_mean"], np.float64), np.asarray(obj["raw_cov"], np.float64)
    count = obj["num_items"]
    if total.ndim != 1 or outer.shape != (total.shape[0],) * 2 or not isinstance(count, (int, np.integer)) or count < 2:
        raise BadInput(f"{path}: inconsistent statistics (sum {total.shape}, outer {outer.shape}, count {count!r})")
    if not (np.isfinite(total).all() and np.isfinite(outer).all()):
        raise BadInput(f"{path}: statistics contain NaN or infinite values")
    return ImportedStats(frechet.SufficientStats(total, outer, int(count)), path, files.sha256_file(path))


def write_real_stats(path: str | os.PathLike, stats: frechet.SufficientStats) -> Path:
    """The same format back (cd-fvd can load it): for sharing a real set's statistics."""
    state = {"capture_all": False, "capture_mean_cov": True, "max_items": None, "num_items": stats.count,
             "num_features": stats.dim, "all_features": [], "raw_mean": stats.total, "raw_cov": stats.outer}
    return files.write_bytes(path, pickle.dumps(state, protocol=4))


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


def face_embedder(crop: str, device: str | None) -> tuple[Embedder, dict]:
    """The facenet identity embedder of ``acd``/``csim`` and its backbone and weight provenance."""
    emb = catalog.resolve(catalog.FACENET.load)(crop=crop, device=str(distributed.resolve_device(device)))
    return (lambda frames: emb.embed(frames).numpy()), {"backbone": emb.backbone_id, **emb.provenance()}


# ---------------------------------------------------------------- the entry point


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


def _base_row(metric: catalog.Metric) -> dict:
    row = dict.fromkeys(SUMMARY_FIELDS, "")
    row.update(metric=metric.column, higher_is_better=metric.higher_is_better, vhq_version=vhq.__version__)
    return row


def _protocol_fields(p: ClipProtocol) -> dict:
    return {
        "protocol": p.name, "frames": p.frames, "stride": p.stride, "clip_real": p.real_clips, "clip_pred": p.fake_clips,
        "max_videos": p.max_videos or "", "clips_per_trial": p.clips_per_trial or "", "first_frames": p.first_frames or "",
        "resize": p.resize, "size": p.size, "value_path": p.value_path, "seed": p.seed, "trials": p.trials,
        "clip_resolution": p.clip_resolution or "", "resample_to": p.resample_to or "",
    }


def _rank_warning(n: int, dim: int, what: str) -> str:
    if n > dim:
        return ""
    msg = f"{what}: N={n} clips is not above the feature dimension {dim}; the covariance is rank-deficient and the value is biased upward"
    console.warn(msg)
    return msg


def _feature_rows(metrics: list[catalog.Metric], pred_videos, real_videos, protocol: ClipProtocol, opts: DistributionOptions) -> list[dict]:
    """Metrics over the clip features of one backbone: the real and generated sets featurised once."""
    backbone = metrics[0].backbone
    name, dim, weight = backbone.name, backbone.feature_dim, opts.weight(backbone)
    load = catalog.resolve(backbone.load)
    prov = weights.provenance(weight)
    weights.path(weight)  # a missing weight fails before any decoding
    keep = any(m.measure == "kernel" for m in metrics) or protocol.trials > 1 or bool(protocol.clips_per_trial)
    if opts.real_stats is not None:
        return _rows_against_imported(metrics, pred_videos, protocol, opts, load, weight, prov)
    real_clips = plan_clips(real_videos, protocol, "real")
    pred_clips = plan_clips(pred_videos, protocol, "fake")
    if opts.record_dir is not None and distributed.rank() == 0:
        rec = Path(opts.record_dir)
        write_clip_record(rec / f"clips_{name}_{protocol.name}_real.csv", real_clips, protocol, "real")
        write_clip_record(rec / f"clips_{name}_{protocol.name}_pred.csv", pred_clips, protocol, "fake")
    device = distributed.resolve_device(opts.device)
    model = load(weight, device)
    dim = getattr(model, "feature_dim", dim)  # a shrunk test network reports its own width
    store = cache.ContentCache("real_video_stats")
    chosen = select_videos(real_videos, protocol)
    key = real_cache_key(chosen, name, prov["weight_sha256"], protocol, keep, device.type)
    cached = None
    if opts.use_cache:
        # An entry that kept the features also serves a run that needs only the statistics.
        for k in [key] + ([] if keep else [real_cache_key(chosen, name, prov["weight_sha256"], protocol, True, device.type)]):
            if (cached := store.get(k)) is not None:
                break
    if cached is not None:
        real = FeatureAccumulator.from_cache(cached, dim, keep)
        real_state = "cached"
    else:
        real = accumulate(model, real_clips, protocol, dim, keep, device, opts.batch_size, opts.workers, f"{name} real")
        if opts.use_cache and distributed.rank() == 0:
            store.put(key, real.to_cache())
        real_state = "computed"
    pred = accumulate(model, pred_clips, protocol, dim, keep, device, opts.batch_size, opts.workers, f"{name} pred")

    common = {
        **_protocol_fields(protocol), **prov, "backbone": name, "feature_dim": dim, "real_stats": real_state,
        "n_pred": len({c.key for c in pred_clips}), "n_real": len({c.key for c in real_clips}),
    }
    return _rows_from_features(metrics, real, pred, protocol, opts, common)


def _rows_from_features(metrics, real: FeatureAccumulator, pred: FeatureAccumulator, protocol: ClipProtocol, opts: DistributionOptions, common: dict) -> list[dict]:
    dim = common["feature_dim"]
    fd_method = protocol.fd_method or opts.fd_method
    rows = []
    for m in metrics:
        row = _base_row(m)
        if m.measure == "frechet":
            res = fvd_trials(real, pred, protocol, fd_method, protocol.unbiased)
            warning = _rank_warning(min(res.clips_real, res.clips_pred), dim, m.column)
            row.update(common, value=res.mean, std=res.std, clips_real=res.clips_real, clips_pred=res.clips_pred,
                       cov="unbiased" if protocol.unbiased else "biased", fd_method=fd_method, warning=warning)
        else:
            res = kvd_trials(real, pred, protocol, opts.kvd_mode)
            row.update(common, value=res.mean, std=res.std, clips_real=res.clips_real, clips_pred=res.clips_pred, kvd_mode=opts.kvd_mode)
        rows.append(row)
    return rows


def _rows_against_imported(metrics, pred_videos, protocol: ClipProtocol, opts: DistributionOptions, load, weight: str, prov: dict) -> list[dict]:
    """Fréchet metrics of the generated set against published real-set statistics."""
    backbone = metrics[0].backbone
    imported = read_real_stats(opts.real_stats)
    if protocol.trials > 1 or protocol.clips_per_trial:
        raise BadInput(f"protocol {protocol.name} draws trials from the real features; published statistics hold only sums")
    pred_clips = plan_clips(pred_videos, protocol, "fake")
    if opts.record_dir is not None and distributed.rank() == 0:
        write_clip_record(Path(opts.record_dir) / f"clips_{backbone.name}_{protocol.name}_pred.csv", pred_clips, protocol, "fake")
    device = distributed.resolve_device(opts.device)
    model = load(weight, device)
    dim = getattr(model, "feature_dim", backbone.feature_dim)
    if imported.stats.dim != dim:
        raise BadInput(f"{imported.path}: statistics of {imported.stats.dim}-d features; the {backbone.name} network gives {dim}-d",
                       "use the file made with the same network (cd-fvd names them videomae_… or i3d_…)")
    pred = accumulate(model, pred_clips, protocol, dim, False, device, opts.batch_size, opts.workers, f"{backbone.name} pred")
    real = FeatureAccumulator(dim)
    s = imported.stats
    real.total, real.outer, real.count = torch.from_numpy(s.total.copy()), torch.from_numpy(s.outer.copy()), torch.tensor(s.count)
    common = {
        **_protocol_fields(protocol), **prov, "backbone": backbone.name, "feature_dim": dim, "real_stats": "imported",
        "real_stats_file": imported.path.name, "real_stats_sha256": imported.sha256,
        "n_pred": len({c.key for c in pred_clips}), "n_real": s.count,
    }
    return _rows_from_features(metrics, real, pred, protocol, opts, common)


def _per_video(keys: list[str], desc: str, value: Callable[[str], float]) -> np.ndarray:
    """``value(key)`` for this rank's keys, gathered from every rank in key order."""
    mine = [(k, value(k)) for k in console.progress(keys, desc=desc)]
    return np.array([v for _, v in sorted(it for part in distributed.all_gather_objects(mine) for it in part)])


def _identity_rows(metrics: list[catalog.Metric], pred_videos, source_dir, opts: DistributionOptions, embedder: Embedder | None, embedder_info: dict | None) -> list[dict]:
    if embedder is None:
        raise BadInput("acd/csim need an identity embedder", "pass embedder= (the facenet embedder) or use identity='colour_mean' for non-face data")
    info = embedder_info or {"backbone": "colour_mean"}
    keys = distributed_slice(sorted(pred_videos))
    rows = []
    for m in metrics:
        if m.measure == "acd":
            vals = _per_video(keys, "acd embeddings", lambda k: _content_distance(pred_videos[k], embedder, opts))
            fields = dict(acd_pairs=opts.acd_pairs, protocol="mocogan")
        else:
            if source_dir is None:
                raise BadInput("csim needs the source images (--source DIR: <key>.png per generated video)")
            source_dir = Path(source_dir)
            sources = video.list_videos(source_dir) if source_dir.is_dir() else {}
            vals = _per_video(keys, "csim embeddings", lambda k: _source_similarity(k, pred_videos[k], source_dir, sources, embedder, opts))
            fields = dict(protocol="cosine")
        row = _base_row(m)
        row.update(info, value=float(vals.mean()), std=float(vals.std()), n_pred=len(vals), frames=opts.acd_max_frames or "all", **fields)
        rows.append(row)
    return rows


def _content_distance(path: Path, embedder: Embedder, opts: DistributionOptions) -> float:
    e = embed_video(path, embedder, opts.acd_max_frames)
    if e.shape[0] < 2:
        raise BadInput(f"{path}: {e.shape[0]} frame(s); ACD needs at least 2")
    return identity_stats.content_distance(e, opts.acd_pairs)


def _source_similarity(key: str, path: Path, source_dir: Path, sources: dict[str, Path], embedder: Embedder, opts: DistributionOptions) -> float:
    src = np.asarray(embedder(_source_image(source_dir, key, sources)[None]), dtype=np.float64)[0]
    e = embed_video(path, embedder, opts.acd_max_frames)
    return float(identity_stats.cosine_similarity(src, e).mean())


def _check_real_stats_metrics(wanted: list[catalog.Metric], path) -> None:
    """Published statistics serve Fréchet metrics of one backbone only (no per-clip features, no identity)."""
    other = [m.name for m in wanted if m.scorer != "clips" or m.measure != "frechet"]
    backbones = {m.backbone.name for m in wanted if m.scorer == "clips"}
    if other or len(backbones) > 1:
        raise BadInput(f"--real-stats {path}: holds one network's feature sums, so it serves one Fréchet metric",
                       f"run {', '.join(other) or ', '.join(m.name for m in wanted)} against --gt videos in a separate command")


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
    choices = {m.name: m for m in catalog.of_kind("distribution")}
    unknown = [m for m in metrics if m not in choices]
    if unknown:
        raise BadInput(f"unknown distribution metric(s): {', '.join(unknown)}", f"choose from: {catalog.names('distribution')}")
    opts = options or DistributionOptions()
    if option_overrides:
        from dataclasses import replace

        opts = replace(opts, **option_overrides)
    if opts.fvd_protocol not in FVD_PROTOCOLS:
        raise BadInput(f"unknown FVD protocol {opts.fvd_protocol!r}", f"choose one of: {', '.join(FVD_PROTOCOLS)}")
    if opts.fid_protocol not in FID_PROTOCOLS:
        raise BadInput(f"unknown video-FID protocol {opts.fid_protocol!r}", f"choose one of: {', '.join(FID_PROTOCOLS)}")
    if opts.videomae_protocol not in VIDEOMAE_PROTOCOLS:
        raise BadInput(f"unknown VideoMAE FVD protocol {opts.videomae_protocol!r}", f"choose one of: {', '.join(VIDEOMAE_PROTOCOLS)}")
    if opts.fd_method not in frechet.FD_METHODS:
        raise BadInput(f"unknown Fréchet method {opts.fd_method!r}", f"choose one of: {', '.join(frechet.FD_METHODS)}")
    if opts.kvd_mode not in kernel.KVD_MODES:
        raise BadInput(f"unknown KVD mode {opts.kvd_mode!r}", f"choose one of: {', '.join(kernel.KVD_MODES)}")
    if opts.acd_pairs not in identity_stats.ACD_PAIRS:
        raise BadInput(f"unknown ACD pairing {opts.acd_pairs!r}", f"choose one of: {', '.join(identity_stats.ACD_PAIRS)}")
    pred_videos = _videos(pred_dir, "generated")
    wanted = [m for m in choices.values() if m.name in metrics]
    if opts.real_stats is not None:
        _check_real_stats_metrics(wanted, opts.real_stats)
    rows: list[dict] = []
    groups: dict[tuple, list[catalog.Metric]] = {}
    for m in wanted:
        if m.scorer == "clips":
            groups.setdefault((m.backbone.name, m.clips), []).append(m)
    protocols = {clips: opts.protocol({"fid": opts.fid_protocol, "videomae": opts.videomae_protocol}.get(clips, opts.fvd_protocol), for_fid=clips == "fid")
                 for _, clips in groups}
    if opts.clip_resolution is not None and not any(p.clip_resolution for p in protocols.values()):
        raise BadInput(f"--clip-resolution {opts.clip_resolution}: no requested metric uses the cd-fvd loader", "it applies to fvd_videomae and to --fvd-protocol cd-fvd-i3d")
    real_videos = _videos(real_dir, "real") if groups and opts.real_stats is None else {}
    for group in groups.values():  # every missing weight fails before any set is featurised
        weights.path(opts.weight(group[0].backbone))
    for (_, clips), group in groups.items():
        rows += _feature_rows(group, pred_videos, real_videos, protocols[clips], opts)
    embedding_metrics = [m for m in wanted if m.scorer == "embeddings"]
    if embedding_metrics:
        rows += _identity_rows(embedding_metrics, pred_videos, source_dir, opts, embedder, embedder_info)
    order = {m: i for i, m in enumerate(metrics)}
    return sorted(rows, key=lambda r: order[r["metric"]])
