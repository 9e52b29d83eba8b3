"""``vhq eval`` (discovery, decoding and CSV writing around ``eval.paired`` and ``eval.distribution``) and ``vhq leaderboard render``.

Kept free of heavy imports so ``vhq --help`` stays fast; the networks load inside the command.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Optional

import typer

from eval import catalog
from eval.options import DistributionOptions, EvalOptions, RenderOptions

METRICS_HELP = f"Comma-separated. Paired: {catalog.names('paired')}. Distribution (unpaired; --gt is the real set): {catalog.names('distribution')}."

app = typer.Typer()
leaderboard_app = typer.Typer(help="Leaderboard reports.", no_args_is_help=True)
app.add_typer(leaderboard_app, name="leaderboard")


@app.command("eval")
def eval_command(
    pred: Annotated[Path, typer.Option("--pred", help="Folder of predicted videos (mp4 files or PNG-frame folders).")],
    gt: Annotated[Optional[Path], typer.Option("--gt", help="Folder of ground-truth videos, matched to --pred by relative path without extension (the real set for distribution metrics).")] = None,
    metrics: Annotated[str, typer.Option(help=METRICS_HELP)] = catalog.default_names("paired"),
    protocol: Annotated[str, typer.Option(help="lia (L1/LPIPS video-weighted, rest frame-weighted) or fomm (all frame-weighted).")] = EvalOptions.protocol,
    size: Annotated[Optional[int], typer.Option(help="Resize both sides to NxN (bilinear, antialiased) before scoring; default: the GT's native size.")] = EvalOptions.size,
    out: Annotated[Path, typer.Option(help="Folder for summary.csv and per_video-<model>-<protocol>.csv (+ .json: protocol, test set).")] = Path("eval-out"),
    name: Annotated[Optional[str], typer.Option(help="Model name in summary/leaderboard rows (default: the --pred folder name).")] = None,
    leaderboard: Annotated[Optional[Path], typer.Option(help="Leaderboard CSV to merge this run's rows into (created if absent).")] = None,
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help="Score only keys present on both sides instead of failing.")] = False,
    truncate: Annotated[bool, typer.Option("--truncate", help="Score the aligned common frames when frame counts differ instead of failing (needs --offset, or detects outputs that skip frame 0).")] = False,
    offset: Annotated[Optional[int], typer.Option(help="Prediction frame i shows GT frame i+K (1: outputs that skip the source frame). Recorded.")] = None,
    fps: Annotated[Optional[float], typer.Option(help="Frame rate of PNG-frame folders (default: a folder follows the video it is paired with).")] = None,
    allow_fps_mismatch: Annotated[bool, typer.Option("--allow-fps-mismatch", help="Score pairs whose frame rates differ instead of failing (recorded).")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Frames decoded per step (and per network call on GPU).")] = EvalOptions.batch_size,
    aed_crop: Annotated[str, typer.Option(help="aed_facenet input: 'frame' (whole frame to 160x160) or 'mtcnn' (face crop); aed (OpenFace) takes the whole frame.")] = EvalOptions.aed_crop,
    aed_distance: Annotated[str, typer.Option(help="AED distance: 'squared' (pose-evaluation) or 'l2'.")] = EvalOptions.aed_distance,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1 … (default: this rank's GPU if any, else cpu).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the GT feature cache.")] = False,
    fvd_protocol: Annotated[str, typer.Option(help="FVD clip protocol: stylegan-v (default), digan, tats, cd-fvd-i3d.")] = DistributionOptions.fvd_protocol,
    fid_protocol: Annotated[str, typer.Option(help="Video-FID clip protocol: g3an (centre 16 frames).")] = DistributionOptions.fid_protocol,
    first_frames: Annotated[Optional[int], typer.Option(min=1, help="Video FID on the first N frames only (LIA's cross-video setting: 100).")] = DistributionOptions.first_frames,
    trials: Annotated[Optional[int], typer.Option(min=1, help="FVD/KVD trials reported as mean ± std (default: the protocol's; DIGAN 10).")] = DistributionOptions.trials,
    seed: Annotated[Optional[int], typer.Option(help="Clip-sampling seed (default: the protocol's); recorded.")] = DistributionOptions.seed,
    max_videos: Annotated[Optional[int], typer.Option(min=1, help="Use at most N videos per set (default: the protocol's, e.g. 2048).")] = DistributionOptions.max_videos,
    cov: Annotated[Optional[str], typer.Option(help="Covariance normalisation: biased (1/N) or unbiased (1/(N-1)); default: the protocol's.")] = DistributionOptions.cov,
    fd_method: Annotated[str, typer.Option(help="Fréchet trace: eigen (symmetric, stable) or sqrtm (scipy, bit parity with StyleGAN-V/G3AN); the cd-fvd protocols pin sqrtm_real.")] = DistributionOptions.fd_method,
    clip_resolution: Annotated[Optional[int], typer.Option(help="cd-fvd protocols: the loader's antialiased crop, 128 or 256 (default 256); match the --real-stats file.")] = DistributionOptions.clip_resolution,
    resample_to: Annotated[Optional[int], typer.Option(min=1, help="cd-fvd's n_fake rule: redraw the generated set until it gives N clips (cd-fvd: 2048). Default: every video once.")] = DistributionOptions.resample_to,
    real_stats: Annotated[Optional[Path], typer.Option("--real-stats", help="Published real-set statistics (cd-fvd .pkl: sum, outer-product sum, count) instead of --gt videos, for one Fréchet metric.", dir_okay=False)] = DistributionOptions.real_stats,
    kvd_mode: Annotated[str, typer.Option(help="KVD: full (DIGAN/TATS) or subsets (100 subsets, x1000).")] = DistributionOptions.kvd_mode,
    acd_pairs: Annotated[str, typer.Option(help="ACD frame pairs: all or consecutive.")] = DistributionOptions.acd_pairs,
    source: Annotated[Optional[Path], typer.Option(help="csim: folder with the source image of each generated video (<key>.png).")] = None,
) -> None:
    """Score predictions: paired metrics against ground truth, distribution metrics against a real set."""
    from eval import distribution, report
    from vhq import console, distributed
    from vhq.errors import BadInput, UsageError
    from vhq.io import files, lease

    distributed.init()
    requested = catalog.normalise(metrics)
    if not requested:
        raise UsageError(f"--metrics {metrics!r} names no metric", f"choose from: {catalog.names('paired')}, {catalog.names('distribution')}")
    dist_names = [n for n in requested if n in {m.name for m in catalog.of_kind("distribution")}]
    paired_names = [n for n in requested if n not in dist_names]
    if paired_names:
        catalog.parse_metrics(",".join(paired_names))  # an unknown name is a usage error before anything is written
    if gt is None and (paired_names or not dist_names or real_stats is None):
        raise BadInput("--gt is required", "pass the ground-truth / real video folder (distribution metrics may use --real-stats FILE.pkl instead)")
    # outputs are checked before any work: an unwritable --out or --leaderboard, or a leaderboard
    # vhq could not rewrite exactly, fails now rather than after hours of scoring
    files.check_writable(out, folder=True)
    if leaderboard is not None:
        files.check_writable(leaderboard)
        report.read_leaderboard(leaderboard)
    with contextlib.ExitStack() as writing:
        if distributed.rank() == 0:  # only rank 0 writes
            writing.enter_context(lease.exclusive_writer(out, folder=True, what="this evaluation folder"))
        model = name or Path(pred).resolve().name
        rows: list[dict] = []
        if paired_names or not dist_names:
            rows += _paired(pred, gt, ",".join(paired_names), protocol, size, out, model, leaderboard,
                            {"allow_missing": allow_missing, "truncate": truncate, "offset": offset, "fps": fps, "allow_fps_mismatch": allow_fps_mismatch},
                            batch_size, aed_crop, aed_distance, device, no_cache)
        if dist_names:
            embedder = embedder_info = None
            if any(catalog.METRICS[n].scorer == "embeddings" for n in dist_names):
                embedder, embedder_info = distribution.face_embedder(aed_crop, device)
            dist_rows = distribution.evaluate_distribution(
                pred, gt, dist_names, source_dir=source, embedder=embedder, embedder_info=embedder_info,
                fvd_protocol=fvd_protocol, fid_protocol=fid_protocol, first_frames=first_frames, trials=trials, seed=seed,
                max_videos=max_videos, cov=cov, fd_method=fd_method, kvd_mode=kvd_mode, acd_pairs=acd_pairs,
                clip_resolution=clip_resolution, resample_to=resample_to, real_stats=real_stats,
                batch_size=batch_size, device=device, use_cache=not no_cache, record_dir=out,
            )
            if distributed.rank() == 0:
                if real_stats is not None:  # the published statistics are the test set
                    testset, fingerprint = real_stats.name, dist_rows[0]["real_stats_sha256"]
                else:
                    testset, fingerprint = Path(gt).resolve().name, report.set_fingerprint(gt)
                dist_summary = report.leaderboard_rows([report.to_summary(r) for r in dist_rows], model=model,
                                                       testset=testset, fingerprint=fingerprint)
                report.echo_summary(dist_summary, "set")
                rows += dist_summary
        if distributed.rank() != 0:
            return
        summary = report.write_summary(out / "summary.csv", report.per_video_relative_to(rows, out / "summary.csv"))
        console.echo(str(summary))
        if leaderboard is not None:
            console.echo(str(report.append_leaderboard(leaderboard, report.per_video_relative_to(rows, leaderboard))))


def _paired(pred, gt, metrics, protocol, size, out, model, leaderboard, pairing_options, batch_size, aed_crop, aed_distance, device, no_cache) -> list[dict]:
    """Paired metrics: score, write the per-video CSV, print the summary lines; return summary rows."""
    from eval import pairing, report
    from eval.paired import evaluate
    from vhq import console, distributed

    opts = EvalOptions(
        metrics=catalog.parse_metrics(metrics),
        protocol=catalog.check_protocol(protocol),
        size=size,
        batch_size=batch_size,
        aed_crop=aed_crop,
        aed_distance=aed_distance,
        device=str(distributed.resolve_device(device)),
        use_cache=not no_cache,
    )
    res = evaluate(pred, gt, opts, **pairing_options)
    ps = res.pairset
    if distributed.rank() != 0:
        return []
    _warn_inputs(res)
    fp = pairing.fingerprint(ps.pairs)
    testset = Path(gt).resolve().name
    rows = report.leaderboard_rows(res.summary, model=model, testset=testset, fingerprint=fp)
    per_video = report.write_per_video(report.per_video_path(out, model, opts.protocol), [r.row for r in res.results], res.columns,
                                       model=model, protocol=opts.protocol, testset=testset, testset_fingerprint=fp, params=rows[0]["params"] if rows else "")
    size_txt = f"{opts.size}x{opts.size}" if opts.size else f"native {ps.native_size()}"
    console.echo(f"{model}: {len(res.results)} videos, {ps.frames} frames, protocol {opts.protocol}, size {size_txt}")
    report.echo_summary(rows, "paired")
    console.echo(str(per_video))
    return report.with_per_video(rows, per_video)


def _warn_inputs(res) -> None:
    """One warning per kind of input that changes a score without failing."""
    from vhq import console

    ps = res.pairset
    if ps.missing:
        console.warn(f"{len(ps.missing)} GT videos have no prediction and were not scored (--allow-missing)")
    if ps.truncated:
        console.warn(f"{len(ps.truncated)} videos scored on their aligned common frames (--truncate, offset {ps.offset})")
    if ps.offset_source == "detected":
        console.warn("every prediction is one frame shorter than its GT and starts at GT frame 1: scored with offset 1 (detected; --offset K chooses)")
    if ps.fps_mismatch:
        console.warn(f"{len(ps.fps_mismatch)} predictions have another frame rate than their GT, e.g. {ps.fps_mismatch[0]} (--allow-fps-mismatch; recorded)")
    lossy = ps.lossy()
    if lossy:
        console.warn(f"{len(lossy)} of {len(ps.pairs)} predictions are lossy ({lossy[0].pred_encoding.label()}, e.g. {lossy[0].key}): published numbers "
                     "score lossless frames; write PNG folders or libx264rgb CRF 0 (recorded)")
    gray = [r.key for r in res.results if r.grayscale_pred]
    if gray:
        console.warn(f"{len(gray)} predictions are grayscale (R = G = B in every frame, e.g. {gray[0]}) while the GT has colour: scored as gray RGB (recorded)")


@leaderboard_app.command("render")
def render_command(
    board: Annotated[Path, typer.Argument(help="Leaderboard CSV (vhq eval / vhq bench).", dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", help="Folder for leaderboard.md, leaderboard.html and plots/.")],
    resamples: Annotated[int, typer.Option("--resamples", min=100, help="Bootstrap resamples over videos for the 95 % intervals.")] = RenderOptions.resamples,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed (recorded).")] = RenderOptions.seed,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write matplotlib plots.")] = RenderOptions.plots,
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows", help="Leave malformed rows out (each named in a warning) instead of refusing the file.")] = RenderOptions.skip_bad_rows,
) -> None:
    """Render a leaderboard CSV: Markdown table, self-contained sortable HTML page, plots with bootstrap intervals."""
    from eval.leaderboard import render
    from vhq import console

    res = render(board, out, resamples=resamples, seed=seed, plots=plots, skip_bad_rows=skip_bad_rows)
    console.echo("\n".join(ln for ln in res.markdown_text.splitlines() if not ln.startswith("![")).rstrip() + "\n")
    for p in res.paths:
        console.echo(str(p))
