"""The benchmark protocols: where a model meets the metrics.

``reconstruct`` (same identity, FOMM/MRAA/LIA "video reconstruction"): for every clip of the
split, frame 0 is the source and every frame (frame 0 included) drives it with **absolute**
motion; prediction t is compared with real frame t by the paired metrics of ``vhq eval``.

``cross`` (cross identity, LIA's cross-video generation): over the frozen pairs file
(``manifests/voxcelebhq_cross_pairs.csv``), the first frame of the source clip is animated by
the first ``frames`` (100) frames of the driving clip with **relative** motion. There is no
ground truth, so the distribution metrics (FVD/KVD on I3D, video FID on 3D ResNeXt-101, ACD)
compare the generated set with the *real set* — the first ``frames`` frames of every clip of the
split — and ``csim`` compares each generated frame with its source. Pairs whose clips the user's
build lacks are listed in ``pairs_used.csv`` and the summary; they are not replaced.

Layout of ``--out`` (one folder per protocol; several models share it)::

    gt/<clip_id>.mp4             reconstruct: links to the split's clips (what `vhq eval --gt` reads)
    real/<clip_id>.mp4           cross: the real set (first N frames of each clip, lossless)
    sources/<pair_id>.png        cross: source frames (what csim reads)
    pairs_used.csv               cross: every pair of the file, used or missing and why
    preds/<model>/<key>.mp4      predictions: H.264 lossless RGB (libx264rgb, CRF 0), or PNG folders
    runs/<model>/status.csv      per clip: ok / failed, reason, seconds, model identity
    runs/<model>/per_video.csv   reconstruct: per-video metric values (bootstrap intervals use it), .json: protocol, test set
    runs/<model>/summary.csv     this run's rows in the leaderboard schema
    runs/<model>/run.json        the model's identity, options, counts, skipped metrics
    leaderboard.csv              default --leaderboard (rows merged under a lock)

Predictions are uint8 frames from the model (floats are clamped to [0, 1] and rounded) written
losslessly: decoding them gives back exactly the frames the model produced. Every long step
resumes: a prediction whose status row is ``ok`` for the same model identity and format is kept.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from eval import catalog
from eval.bench.models import Model
from eval.bench.options import BenchOptions
from eval.bench.predict import Job, pred_path, predict, read_status
from vhq import __version__, console, distributed, weights
from vhq.dataset.pairs import Pair, read_pairs
from vhq.dataset.split import ListedClip, read_split
from vhq.errors import BadInput
from vhq.io import files, video


@dataclass
class BenchResult:
    name: str
    protocol: str
    preds: Path
    run_dir: Path
    done: int
    reused: int
    rows: list[dict]
    skipped_metrics: dict[str, str]
    leaderboard: Path | None
    missing_pairs: list[dict] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)


# ------------------------------------------------------------------ weights

def missing_weights(metric: catalog.Metric) -> list[str]:
    return [w for w in metric.weights if not weights.status(w).present]


def how_to_get(absent: list[str]) -> str:
    """The command(s) that put these weights in the cache."""
    pip = {w: catalog.install_hint(w) for w in absent if catalog.install_hint(w)}
    fetch = [w for w in absent if w not in pip and weights.entry(w).urls and not weights.entry(w).import_only]
    parts = [f"vhq weights fetch {' '.join(fetch)}"] if fetch else []
    parts += [pip[w] for w in absent if w in pip]
    parts += [weights.missing_message(weights.entry(w))[1].removeprefix("run: ") for w in absent if w not in pip and w not in fetch]
    return "; ".join(dict.fromkeys(parts))


def check_weights(metrics: list[catalog.Metric], skip_missing: bool, provided: tuple[str, ...] = ()) -> tuple[list[catalog.Metric], dict[str, str]]:
    """(metrics to run, {skipped metric: command that gets its weights}); raises unless skipping.

    ``provided``: scorers whose network the caller supplies (no registry weights needed).
    """
    keep, skipped = [], {}
    for m in metrics:
        absent = [] if m.scorer in provided else missing_weights(m)
        if not absent:
            keep.append(m)
            continue
        skipped[m.name] = how_to_get(absent)
    if skipped and not skip_missing:
        first = next(iter(skipped))
        raise BadInput(
            f"weights for {', '.join(skipped)} are not in the cache ({skipped[first]})",
            "get them first (`vhq weights list` shows the cache), choose other --metrics, or pass --skip-missing-weights",
        )
    return keep, skipped


# ------------------------------------------------------------------ shared plumbing

def _check_protocol_folder(out: Path, protocol: str, split_file: Path) -> None:
    marker = out / "bench.json"
    if marker.exists():
        meta = json.loads(marker.read_text())
        if meta.get("protocol") != protocol:
            raise BadInput(f"{out}: holds a `vhq bench {meta.get('protocol')}` run; use another --out for `{protocol}`")
    elif distributed.rank() == 0:
        files.write_json(marker, {"protocol": protocol, "split": str(split_file.resolve()), "vhq_version": __version__})


def _link_or_copy(target: Path, link: Path) -> None:
    try:
        link.symlink_to(target, target_is_directory=target.is_dir())
    except OSError:
        if target.is_dir():
            shutil.copytree(target, link)
        else:
            shutil.copy2(target, link)


def link_set(folder: Path, items: dict[str, Path]) -> Path:
    """``folder/<key><suffix>`` links to ``items``; rebuilt atomically when the set changed."""
    def current() -> dict[str, str]:
        if not folder.is_dir():
            return {}
        return {p.name: os.readlink(p) if p.is_symlink() else "" for p in folder.iterdir()}

    want = {key + (p.suffix if p.is_file() else ""): str(p) for key, p in items.items()}
    if current() == want:
        return folder
    with files.atomic_path(folder, suffix="") as tmp:
        tmp.mkdir()
        for name, target in want.items():
            _link_or_copy(Path(target), tmp / name)
    return folder


def _relative_to_board(path: Path, board: Path | None) -> str:
    if board is None:
        return str(path.resolve())
    try:
        return os.path.relpath(path.resolve(), board.resolve().parent)
    except ValueError:
        return str(path.resolve())


def _name(model: Model, opts: BenchOptions) -> str:
    name = opts.name or model.default_name
    if not name or "/" in name or name.startswith("."):
        raise BadInput(f"--name {name!r}: a model name must be non-empty and not contain '/'")
    return name


# ------------------------------------------------------------------ reconstruct

def _check_outputs(opts: BenchOptions) -> None:
    """--out and the leaderboard can be written, and the leaderboard can be rewritten exactly: checked before any prediction."""
    from eval import report

    files.check_writable(opts.out, folder=True)
    files.check_writable(opts.board)
    report.read_leaderboard(opts.board)


def reconstruct(model: Model, opts: BenchOptions) -> BenchResult:
    """Same-identity reconstruction: predict every clip of the split, then score with the paired metrics."""
    from eval import pairing, report
    from eval.options import EvalOptions
    from eval.paired import evaluate

    distributed.init()
    _check_outputs(opts)
    listing, clips = read_split(opts.data, opts.split)
    requested = opts.requested_metrics("paired")
    metrics, skipped = check_weights(requested, opts.skip_missing_weights) if opts.score else ([], {})
    specs = catalog.parse_metrics(",".join(m.name for m in metrics)) if metrics else []
    eval_protocol = catalog.check_protocol(opts.eval_protocol)
    if opts.limit:
        clips = clips[: opts.limit]
    name = _name(model, opts)
    out = opts.out
    _check_protocol_folder(out, "reconstruct", listing)
    jobs = []
    for c in clips:
        info = video.probe(c.path)
        jobs.append(Job(c.clip_id, c.path, c.path, info.frames, info.fps or video.DEFAULT_FOLDER_FPS, "absolute"))
    gt_dir = out / "gt"
    if distributed.rank() == 0:
        link_set(gt_dir, {c.clip_id: c.path for c in clips})
    distributed.barrier()
    preds, run_dir = out / "preds" / name, out / "runs" / name
    done, reused = predict(model, jobs, preds, run_dir, opts.fmt, opts.shard)
    distributed.barrier()
    board = opts.board
    result = BenchResult(name, "reconstruct", preds, run_dir, done, reused, [], skipped, None)
    status = read_status(run_dir)
    not_ok = [j.key for j in jobs if status.get(j.key, {}).get("status") != "ok"]
    if not opts.score or opts.shard.count > 1 or not_ok or not specs:
        if not_ok and opts.shard.count > 1:
            console.info(f"{len(not_ok)} clip(s) are not predicted yet (other shards); score once every shard is done: the same command without --shard")
        return result
    size = opts.size
    if size is None:
        p0, g0 = video.probe(pred_path(preds, jobs[0].key, opts.fmt)), video.probe(jobs[0].driving)
        if (p0.width, p0.height) != (g0.width, g0.height):
            size = g0.width
            console.info(f"predictions are {p0.width}x{p0.height}, the clips {g0.width}x{g0.height}: scoring at {size}x{size}")
    eopts = EvalOptions(metrics=specs, protocol=eval_protocol, size=size, batch_size=opts.batch_size, aed_crop=opts.aed_crop,
                        device=str(distributed.resolve_device(opts.device)))
    pred_view = _scored_view(preds, run_dir, {j.key for j in jobs}, opts.fmt)
    res = evaluate(pred_view, gt_dir, eopts)
    if distributed.rank() != 0:
        return result
    fp = pairing.fingerprint(res.pairset.pairs)
    testset = f"{opts.data.resolve().name}/{opts.split} reconstruct"
    rows = report.leaderboard_rows(res.summary, model=name, testset=testset, fingerprint=fp)
    per_video = report.write_per_video(run_dir / "per_video.csv", [r.row for r in res.results], res.columns, model=name, protocol=eval_protocol,
                                       testset=testset, testset_fingerprint=fp, params=rows[0]["params"] if rows else "")
    details = {
        "per_video": _relative_to_board(per_video, board),
        "per_video_sha256": files.sha256_file(per_video),
        "bench": {"protocol": "reconstruct", "source": "frame 0", "driving": "every frame", "motion": "absolute",
                  "split": str(listing.resolve()), "clips": len(jobs), "format": opts.fmt, "model": model.identity()},
    }
    rows = report.with_details(rows, **details)
    result.rows = rows
    result.paths.update(per_video=per_video, gt=gt_dir)
    _finish(result, rows, board, model, opts, {"clips": len(jobs), "scored_size": size or "native"})
    return result


def _scored_view(preds: Path, run_dir: Path, keys: set[str], fmt: str) -> Path:
    """The prediction folder when it holds exactly this run's keys, else a view of links to them."""
    found = video.list_videos(preds)
    if set(found) == keys:
        return preds
    return link_set(run_dir / ".scored", {k: found[k] for k in sorted(keys)})


def _finish(result: BenchResult, rows: list[dict], board: Path, model: Model, opts: BenchOptions, counts: dict) -> None:
    from eval import report

    result.paths["summary"] = report.write_summary(result.run_dir / "summary.csv", rows)
    result.leaderboard = report.append_leaderboard(board, rows) if rows else None
    result.paths["run"] = files.write_json(result.run_dir / "run.json", {
        "name": result.name, "protocol": result.protocol, "model": model.identity(), "data": str(opts.data.resolve()),
        "split": opts.split, "format": opts.fmt, "eval_protocol": opts.eval_protocol, "metrics": [r["metric"] for r in rows],
        "skipped_metrics": result.skipped_metrics, "predicted_now": result.done, "reused": result.reused,
        "missing_pairs": len(result.missing_pairs), "leaderboard": str(board), "vhq_version": __version__, **counts,
    })


# ------------------------------------------------------------------ cross

def plan_pairs(pairs: list[Pair], clips: dict[str, ListedClip]) -> tuple[list[Pair], list[dict]]:
    """(pairs whose clips are both present, a row per pair with its state)."""
    used, table = [], []
    for p in pairs:
        absent = [role for role, cid in (("source", p.source_clip), ("driving", p.driving_clip)) if cid not in clips]
        state = "used" if not absent else "missing " + " and ".join(absent)
        table.append({"pair_id": p.pair_id, "source_clip": p.source_clip, "driving_clip": p.driving_clip, "state": state})
        if not absent:
            used.append(p)
    return used, table


def cross(model: Model, opts: BenchOptions, embedder=None, embedder_info: dict | None = None) -> BenchResult:
    """Cross-identity transfer over the frozen pairs; distribution metrics + csim against the real set.

    ``embedder`` (uint8 ``[T,H,W,3]`` → ``[T,D]``, with ``embedder_info`` naming it) replaces the
    facenet identity embedder of ``acd``/``csim`` (e.g. ``eval.distribution.colour_mean_embedder``
    for non-face data).
    """
    from eval import report
    from eval.distribution import evaluate_distribution, face_embedder
    from eval.report import set_fingerprint, to_summary

    distributed.init()
    _check_outputs(opts)
    listing, clip_list = read_split(opts.data, opts.split)
    requested = opts.requested_metrics("distribution")
    paired = [m.name for m in requested if m.kind == "paired"]
    if paired:
        raise BadInput(f"cross-identity transfer has no ground truth: {', '.join(paired)} need one", f"use {catalog.names('distribution')}")
    provided = ("embeddings",) if embedder is not None else ()
    metrics, skipped = check_weights(requested, opts.skip_missing_weights, provided) if opts.score else ([], {})
    clips = {c.clip_id: c for c in clip_list}
    pairs_file, pairs = read_pairs(opts.pairs)
    used, table = plan_pairs(pairs, clips)
    if opts.limit:
        used = used[: opts.limit]
    out = opts.out
    _check_protocol_folder(out, "cross", listing)
    name = _name(model, opts)
    if distributed.rank() == 0:
        files.write_csv(out / "pairs_used.csv", table, ("pair_id", "source_clip", "driving_clip", "state"))
    missing = [r for r in table if r["state"] != "used"]
    if missing:
        console.warn(f"{len(missing)} of {len(pairs)} pairs of {pairs_file.name} name clips this build lacks; they are not scored "
                     f"and not replaced (list: {out / 'pairs_used.csv'})")
    if not used:
        raise BadInput(f"none of the {len(pairs)} pairs of {pairs_file} has both clips in {listing}",
                       "the pairs name manifest clip ids; build the test split from the same manifest")
    info = {c: video.probe(clips[c].path) for c in {p.driving_clip for p in used} | set(clips)}
    jobs = [Job(p.pair_id, clips[p.source_clip].path, clips[p.driving_clip].path, min(opts.frames, info[p.driving_clip].frames),
                info[p.driving_clip].fps or video.DEFAULT_FOLDER_FPS, "relative") for p in used]
    real_dir, sources_dir = out / "real", out / "sources"
    if distributed.rank() == 0:
        _write_real_set(real_dir, clip_list, info, opts.frames)
        for p in used:
            dest = sources_dir / f"{p.pair_id}.png"
            if not dest.exists():
                video.write_image(dest, video.read_frames(clips[p.source_clip].path, 0, 1)[0])
    distributed.barrier()
    preds, run_dir = out / "preds" / name, out / "runs" / name
    done, reused = predict(model, jobs, preds, run_dir, opts.fmt, opts.shard)
    distributed.barrier()
    board = opts.board
    result = BenchResult(name, "cross", preds, run_dir, done, reused, [], skipped, None, missing)
    status = read_status(run_dir)
    not_ok = [j.key for j in jobs if status.get(j.key, {}).get("status") != "ok"]
    if not opts.score or opts.shard.count > 1 or not_ok or not metrics:
        return result
    if embedder is None and any(m.scorer == "embeddings" for m in metrics):
        embedder, embedder_info = face_embedder(opts.aed_crop, opts.device)
    pred_view = _scored_view(preds, run_dir, {j.key for j in jobs}, opts.fmt)
    dist_rows = evaluate_distribution(pred_view, real_dir, [m.name for m in metrics], source_dir=sources_dir, embedder=embedder, embedder_info=embedder_info,
                                      batch_size=opts.batch_size, device=opts.device, record_dir=run_dir)
    if distributed.rank() != 0:
        return result
    real_fp = set_fingerprint(real_dir)
    fp = files.sha256_strings([real_fp, files.sha256_file(pairs_file), *[p.pair_id for p in used]])
    testset = f"{opts.data.resolve().name}/{opts.split} cross"
    rows = report.leaderboard_rows([to_summary(r) for r in dist_rows], model=name, testset=testset, fingerprint=fp)
    real_set = real_set_description(clip_list, info, opts.frames, listing)
    real_set["fingerprint"] = real_fp
    details = {
        "bench": {"protocol": "cross", "source": "frame 0 of the source clip", "driving": f"first {opts.frames} frames of the driving clip",
                  "motion": "relative", "format": opts.fmt, "model": model.identity()},
        "pairs": {"file": pairs_file.name, "sha256": files.sha256_file(pairs_file), "listed": len(pairs), "used": len(used), "missing": len(missing)},
        "real_set": real_set,
    }
    rows = report.with_details(rows, **details)
    result.rows = rows
    result.paths.update(real=real_dir, sources=sources_dir, pairs_used=out / "pairs_used.csv")
    _finish(result, rows, board, model, opts, {"pairs": len(used), "real_set": real_set})
    return result


def real_set_description(clips: list[ListedClip], info: dict, frames: int, listing: Path) -> dict:
    return {"clips": len(clips), "frames": f"0-{frames - 1} (the first {frames}; shorter clips whole)",
            "split": str(listing.resolve()), "short_clips": sum(1 for c in clips if info[c.clip_id].frames < frames)}


def _write_real_set(real_dir: Path, clips: list[ListedClip], info: dict, frames: int) -> None:
    """The real set for FVD/KVD/video FID: the first ``frames`` frames of every clip, lossless."""
    real_dir.mkdir(parents=True, exist_ok=True)
    want = {f"{c.clip_id}.mp4" for c in clips}
    for p in real_dir.iterdir():
        if p.name not in want:
            files.remove(p)
    for c in console.progress(clips, desc="real set"):
        dest = real_dir / f"{c.clip_id}.mp4"
        n = min(frames, info[c.clip_id].frames)
        if dest.exists() and video.probe(dest).frames == n:
            continue
        video.write_video(dest, video.iter_frames(c.path, batch_size=16, count=n), info[c.clip_id].fps or video.DEFAULT_FOLDER_FPS, **video.LOSSLESS_MP4)



# ------------------------------------------------------------------ generate (LEO)

GENERATE_LENGTHS = (16, 128)  # LEO: FVD16 and FVD128
GENERATE_METRICS = "fvd_i3d,kvd,acd"  # LEO's Tables 1-2


def generate(model: Model, opts: BenchOptions, lengths: tuple[int, ...] = GENERATE_LENGTHS, embedder=None, embedder_info: dict | None = None,
             fvd_protocol: str = "stylegan-v") -> list[BenchResult]:
    """LEO's protocol: the first frame of every clip of the split starts a video of each length in ``lengths``.

    Every length is its own set: ``preds/<model>/<L>f/``, ``runs/<model>/<L>f/`` and the real set
    ``real-<L>f/`` (the first L frames of every clip), scored with the distribution metrics (FVD with
    the protocol named, KVD, ACD; csim to the start frame on request). One result per length.
    """
    from eval import report
    from eval.distribution import evaluate_distribution, face_embedder
    from eval.report import set_fingerprint, to_summary

    distributed.init()
    _check_outputs(opts)
    bad = [n for n in lengths if n < 16]
    if not lengths or bad:
        raise BadInput(f"--lengths {','.join(map(str, lengths))}: the video metrics need videos of at least 16 frames")
    listing, clip_list = read_split(opts.data, opts.split)
    requested = catalog.parse_metrics(opts.metrics or GENERATE_METRICS, None, ordered=False)
    paired = [m.name for m in requested if m.kind == "paired"]
    if paired:
        raise BadInput(f"generated videos have no ground truth: {', '.join(paired)} need one", f"use {catalog.names('distribution')}")
    provided = ("embeddings",) if embedder is not None else ()
    metrics, skipped = check_weights(requested, opts.skip_missing_weights, provided) if opts.score else ([], {})
    if opts.limit:
        clip_list = clip_list[: opts.limit]
    out = opts.out
    _check_protocol_folder(out, "generate", listing)
    name = _name(model, opts)
    info = {c.clip_id: video.probe(c.path) for c in clip_list}
    sources_dir = out / "sources"
    if distributed.rank() == 0:
        for c in clip_list:
            dest = sources_dir / f"{c.clip_id}.png"
            if not dest.exists():
                video.write_image(dest, video.read_frames(c.path, 0, 1)[0])
    distributed.barrier()
    if embedder is None and opts.score and any(m.scorer == "embeddings" for m in metrics):
        embedder, embedder_info = face_embedder(opts.aed_crop, opts.device)
    board = opts.board
    results = []
    for n in lengths:
        jobs = [Job(c.clip_id, c.path, c.path, n, info[c.clip_id].fps or video.DEFAULT_FOLDER_FPS, "generate") for c in clip_list]
        preds, run_dir, real_dir = out / "preds" / name / f"{n}f", out / "runs" / name / f"{n}f", out / f"real-{n}f"
        if distributed.rank() == 0:
            _write_real_set(real_dir, clip_list, info, n)
        distributed.barrier()
        done, reused = predict(model, jobs, preds, run_dir, opts.fmt, opts.shard)
        distributed.barrier()
        result = BenchResult(name, f"generate {n}f", preds, run_dir, done, reused, [], skipped, None)
        results.append(result)
        status = read_status(run_dir)
        not_ok = [j.key for j in jobs if status.get(j.key, {}).get("status") != "ok"]
        if not opts.score or opts.shard.count > 1 or not_ok or not metrics:
            continue
        pred_view = _scored_view(preds, run_dir, {j.key for j in jobs}, opts.fmt)
        dist_rows = evaluate_distribution(pred_view, real_dir, [m.name for m in metrics], source_dir=sources_dir, embedder=embedder,
                                          embedder_info=embedder_info, batch_size=opts.batch_size, device=opts.device, record_dir=run_dir,
                                          fvd_protocol=fvd_protocol, frames=n)
        if distributed.rank() != 0:
            continue
        real_fp = set_fingerprint(real_dir)
        testset = f"{opts.data.resolve().name}/{opts.split} generate {n}f"
        rows = report.leaderboard_rows([to_summary(r) for r in dist_rows], model=name, testset=testset, fingerprint=files.sha256_strings([real_fp, str(n)]))
        real_set = real_set_description(clip_list, info, n, listing)
        real_set["fingerprint"] = real_fp
        details = {
            "bench": {"protocol": "generate", "source": "frame 0 of each clip", "frames": n, "motion": "generated (no driving video)",
                      "fvd_protocol": fvd_protocol, "format": opts.fmt, "model": model.identity()},
            "real_set": real_set,
        }
        rows = report.with_details(rows, **details)
        result.rows = rows
        result.paths.update(real=real_dir, sources=sources_dir)
        _finish(result, rows, board, model, opts, {"clips": len(jobs), "frames": n, "real_set": real_set})
    return results
