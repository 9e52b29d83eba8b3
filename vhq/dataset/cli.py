"""The dataset commands, in data-flow order: ``vhq manifest …``, ``vhq download``, ``vhq crop``, ``vhq split``, ``vhq stats``."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Optional

import typer

from vhq.console import echo, info
from vhq.dataset import manifest as M
from vhq.dataset import pairs as P
from vhq.dataset.crop.options import Options as CropOptions
from vhq.dataset.download.options import Options as DownloadOptions


def _default(fn, name: str):
    """The default ``fn`` declares for its parameter ``name`` (the CLI shows it, never restates it)."""
    return inspect.signature(fn).parameters[name].default


def _run_stage(stage, manifest: Path, opts, shard: str | None, limit: int | None):
    """Run a dataset stage (download, crop) over the manifest's clips of this shard."""
    from vhq.parallel import Shard

    return stage.run(M.load(manifest), opts, Shard.parse(shard), limit)


app = typer.Typer()
manifest_app = typer.Typer(no_args_is_help=True, help="The clip manifest: import FOMM's vox-metadata.csv, inspect a manifest.")
app.add_typer(manifest_app, name="manifest")


@manifest_app.command("import-fomm")
def import_fomm(
    source: Annotated[Optional[str], typer.Argument(help="Path or URL of FOMM's vox-metadata.csv (default: its public URL).")] = None,
    out: Annotated[Path, typer.Option(help="Manifest to write (plus OUT.json with counts and provenance).")] = Path(_default(M.import_fomm, "dest")),
    sha256: Annotated[Optional[str], typer.Option(help="Expected sha256 of SOURCE ('' = don't check). Default: FOMM's published file is checked when SOURCE is its URL.")] = None,
) -> None:
    """Convert FOMM's vox-metadata.csv into a deduplicated, person-disjoint vhq manifest."""
    src = source or M.FOMM_URL
    m, report = M.import_fomm(src, out, sha256="default" if sha256 is None else sha256)
    info(f"read {report.rows} rows from {src} (sha256 {report.sha256[:16]}…{', verified' if report.verified else ''})")
    info(f"dropped {report.exact_duplicates} exact duplicate rows; merged {report.merged_duplicates} clips listed in both partitions")
    for person, n in report.moved_to_test.items():
        info(f"person {person}: {n} train row(s) moved to test (the person has test rows)")
    for a, b in report.conflicting_duplicates:
        info(f"warning: lines {a} and {b} share a clip id but differ; kept line {a}")
    echo(f"wrote {out}: {M.describe(m)}")
    echo(f"fingerprint {m.fingerprint}")


@manifest_app.command("info")
def manifest_info(
    manifest: Annotated[Path, typer.Argument(help="A vhq manifest CSV.")],
) -> None:
    """Validate a manifest and print its counts and fingerprint."""
    m = M.load(manifest)
    echo(M.describe(m))
    echo(f"fingerprint {m.fingerprint}")
    meta = M.read_meta(manifest)
    if meta.get("fingerprint") and meta["fingerprint"] != m.fingerprint:
        info(f"warning: {M.meta_path(manifest)} records fingerprint {meta['fingerprint'][:16]}…; the manifest was edited after it was written")


@manifest_app.command("pairs")
def pairs(
    manifest: Annotated[Path, typer.Argument(help="A manifest built by `vhq manifest import-fomm`.")],
    out: Annotated[Path, typer.Option(help="Pairs CSV to write (plus OUT.json with the rule's parameters).")] = Path(_default(P.write_pairs, "out")),
    seed: Annotated[str, typer.Option(help="Seed string of the hash rule.")] = _default(P.write_pairs, "seed"),
) -> None:
    """Draw the frozen cross-identity pairs of `vhq bench cross` from a manifest's test clips."""
    out, meta = P.write_pairs(manifest, out, seed)
    echo(f"wrote {out}: {meta['test_clips']} pairs, {meta['test_persons']} source persons, {meta['driving_clips']} distinct driving clips; sha256 {meta['sha256']}")


download_app = typer.Typer(help="Download the manifest's YouTube videos; `export-status` shares what a run found.")
app.add_typer(download_app, name="download")


@download_app.callback(invoke_without_command=True)
def download(
    ctx: typer.Context,
    manifest: Annotated[Optional[Path], typer.Option("--manifest", "-m", help="vhq manifest CSV (see `vhq manifest import-fomm`).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder for the videos and download_status.csv.")] = None,
    plan: Annotated[bool, typer.Option("--plan", help="Print videos, hours of sections and the estimated size at 1080p for this manifest/shard; download nothing.")] = False,
    min_height: Annotated[int, typer.Option(help="Skip videos whose best video stream is smaller than this height (AI-upscaled formats never count).")] = DownloadOptions.min_height,
    prefer_best: Annotated[bool, typer.Option("--prefer-best", help="Download the largest stream instead of the smallest one >= --min-height.")] = DownloadOptions.prefer_best,
    full: Annotated[bool, typer.Option("--full", help="Download whole videos instead of the padded time ranges the manifest needs.")] = DownloadOptions.full,
    pad: Annotated[float, typer.Option(help="Seconds of padding around each clip's time range (>= 0).")] = DownloadOptions.pad,
    crf: Annotated[int, typer.Option(help="Sections are re-encoded to start on a frame: 0 = lossless H.264 (crop's encode is then the only lossy one); 1-51 = libx264 CRF, smaller files. --full keeps the original stream.")] = DownloadOptions.crf,
    workers: Annotated[int, typer.Option(help="Videos downloaded at once.")] = DownloadOptions.workers,
    shard: Annotated[Optional[str], typer.Option(help="Only this shard's videos: K/N (1-based), e.g. 1/4 on the first of four machines.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="At most this many videos this run (a canary run: --limit 20).")] = None,
    sleep: Annotated[float, typer.Option(help="Seconds each worker waits after a video (YouTube lets a guest fetch ~300 videos an hour).")] = DownloadOptions.sleep,
    sleep_requests: Annotated[float, typer.Option(help="Seconds between yt-dlp's extraction requests.")] = DownloadOptions.sleep_requests,
    backoff: Annotated[float, typer.Option(help="First pause of all workers after a rate limit, in seconds; doubles while rate limits continue.")] = DownloadOptions.backoff,
    attempts: Annotated[int, typer.Option(help="Tries per video while it is rate-limited.")] = DownloadOptions.attempts,
    max_bot_checks: Annotated[int, typer.Option(help="Stop (exit 1) after bot checks on this many different videos in a row.")] = DownloadOptions.max_bot_checks,
    cookies: Annotated[Optional[Path], typer.Option(help="Netscape cookies.txt for yt-dlp (age-restricted videos, bot checks); each worker uses its own copy.")] = DownloadOptions.cookies,
    proxy: Annotated[Optional[str], typer.Option(help="HTTP(S) proxy URL for yt-dlp and its ffmpeg (SOCKS only with --full).")] = DownloadOptions.proxy,
    extractor_args: Annotated[Optional[list[str]], typer.Option(help="yt-dlp --extractor-args, e.g. 'youtube:player_client=mweb' (repeatable).")] = None,
    ytdlp_opt: Annotated[Optional[list[str]], typer.Option(help="A YoutubeDL option as KEY=JSON, e.g. 'source_address=\"0.0.0.0\"' (repeatable).")] = None,
    url_template: Annotated[str, typer.Option(help="Video URL with {video_id}.")] = DownloadOptions.url_template,
    recheck: Annotated[Optional[list[str]], typer.Option("--recheck", "--retry-status", help="Probe again the videos with this final status (repeatable), e.g. age-restricted after adding --cookies.")] = None,
    skip_known: Annotated[Optional[Path], typer.Option(help="An `export-status` table: videos it found gone (or too small) are recorded, not probed.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show yt-dlp's log.")] = DownloadOptions.verbose,
) -> None:
    """Download the manifest's YouTube videos at >= --min-height (resumable; see download_status.csv)."""
    if ctx.invoked_subcommand is not None:
        return
    from vhq.errors import BadInput

    if manifest is None:
        raise BadInput("vhq download needs --manifest", "e.g. vhq download --manifest manifests/voxceleb.csv --out videos")
    if plan:
        from vhq.dataset.download.plan import FETCH_MBITS, LOSSLESS_MBITS, estimate
        from vhq.parallel import Shard

        m = M.load(manifest)
        by_video = m.by_video()
        sh = Shard.parse(shard)
        ids = sh.select(sorted(by_video), key=str)[:limit]
        e = estimate({v: by_video[v] for v in ids}, pad, lossless=crf == 0)
        written = f"lossless intermediate at {LOSSLESS_MBITS:g} Mbit/s" if crf == 0 else f"CRF {crf} at about the source rate"
        def size(gb: float) -> str:
            return f"{gb:,.1f} GB" if gb >= 1 else f"{gb * 1000:.0f} MB"

        echo(f"{manifest}{f' shard {sh}' if sh.count > 1 else ''}: {e.videos} videos, {e.clips} clips, {e.sections} sections "
             f"(padded by {pad:g} s), {e.hours:,.2f} hours of video")
        echo(f"at 1080p: about {size(e.fetched_gb)} fetched (YouTube H.264 at {FETCH_MBITS:g} Mbit/s), "
             f"{size(e.written_gb)} written ({written}); assumed rates, not measured")
        return
    if out is None:
        raise BadInput("vhq download needs --out", "the folder for the videos and download_status.csv")
    from vhq.dataset.download import stage

    if "{video_id}" not in url_template and "{id}" not in url_template:
        raise BadInput(f"--url-template {url_template!r} has no {{video_id}}")
    if cookies is not None and not cookies.is_file():
        raise BadInput(f"--cookies {cookies}: no such file")
    if workers < 1 or (limit is not None and limit < 0) or attempts < 1:
        raise BadInput("--workers and --attempts must be >= 1 and --limit >= 0")
    opts = DownloadOptions(
        out=out, min_height=min_height, prefer_best=prefer_best, full=full, pad=pad, crf=crf,
        workers=workers, sleep=sleep, sleep_requests=sleep_requests, backoff=backoff, attempts=attempts,
        cookies=str(cookies) if cookies else None, proxy=proxy, url_template=url_template, retry_status=tuple(recheck or ()),
        extractor_args=tuple(extractor_args or ()), ytdlp_opts=tuple(ytdlp_opt or ()), max_bot_checks=max_bot_checks,
        skip_known=skip_known, verbose=verbose,
    )
    stage.check_options(opts)
    summary = _run_stage(stage, manifest, opts, shard, limit)
    done = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items())) or "nothing to do"
    known = f", {summary.known} known from {skip_known.name}" if summary.known else ""
    echo(f"{done}; {summary.skipped} skipped (final in an earlier run){known}; table {summary.table}")
    if summary.stopped is not None:
        raise summary.stopped
    if summary.retryable:
        echo(f"{len(summary.retryable)} video(s) can be retried: re-run the same command")
        raise typer.Exit(1)


@download_app.command("export-status")
def export_status(
    videos: Annotated[Path, typer.Option("--videos", help="The `vhq download --out` folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV to write: video_id, status, max_height, upscaled, checked, vhq and yt-dlp versions.")],
) -> None:
    """Write a shareable availability table (final statuses only, no local paths) for `--skip-known`."""
    from vhq.dataset.download.export import export

    path, counts = export(videos, out)
    echo(f"wrote {path}: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no final rows"))


@app.command("crop")
def crop(
    manifest: Annotated[Path, typer.Option("--manifest", "-m", help="vhq manifest CSV (the one given to `vhq download`).")],
    videos: Annotated[Optional[Path], typer.Option("--videos", help="The `vhq download --out` folder (with download_status.csv).")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Folder for clips/ and crop_status.csv.")] = None,
    box: Annotated[str, typer.Option(help="Crop rule: vhq (square of ENLARGE x the box's longer side, shifted inside the frame); fomm-square (FOMM crop_vox.py: a square of the box's longer side, which already holds crop_vox's 1.2x, around its centre; clips whose square leaves the frame dropped); fomm-stretch (FOMM load_videos.py: the box as given, resized to a square without keeping its aspect). One rule per --out folder.")] = CropOptions.box,
    size: Annotated[int, typer.Option(help="Output side in pixels (lanczos resize).")] = CropOptions.size,
    format: Annotated[str, typer.Option("--format", help="mp4 (H.264) or png (a folder of 0000000.png… per clip, the FOMM/LIA training layout).")] = CropOptions.format,
    crf: Annotated[int, typer.Option(help="libx264 CRF (17-18 keeps 512px faces visually lossless).")] = CropOptions.crf,
    preset: Annotated[str, typer.Option(help="libx264 preset.")] = CropOptions.preset,
    gop: Annotated[int, typer.Option(help="Keyframe interval in frames (short so training can seek).")] = CropOptions.gop,
    enlarge: Annotated[Optional[float], typer.Option(help="Square side = ENLARGE x the manifest box's longer side (vhq: shrunk to fit the frame when needed). Default: 1.1 for --box vhq, 1.0 for fomm-square; not used by fomm-stretch.")] = CropOptions.enlarge,
    min_crop: Annotated[int, typer.Option(help="Drop clips whose crop region's shorter side is below this many source pixels.")] = CropOptions.min_crop,
    min_inside: Annotated[float, typer.Option(help="--box vhq: drop clips with less than this fraction of the box inside the frame.")] = CropOptions.min_inside,
    face_check: Annotated[bool, typer.Option("--face-check/--no-face-check", help="Verify the face with MTCNN on sampled frames.")] = CropOptions.face_check,
    face_threshold: Annotated[float, typer.Option(help="Minimum median IoU between the detected face and the scaled box.")] = CropOptions.face_threshold,
    face_samples: Annotated[int, typer.Option(help="Frames sampled for the face check.")] = CropOptions.face_samples,
    cut_threshold: Annotated[float, typer.Option(help="AdaptiveDetector adaptive_threshold for shot cuts.")] = CropOptions.cut_threshold,
    cut_min_content: Annotated[float, typer.Option(help="AdaptiveDetector min_content_val for shot cuts.")] = CropOptions.cut_min_content,
    min_frames: Annotated[int, typer.Option(help="After a cut, keep the longest shot only if it has at least this many frames.")] = CropOptions.min_frames,
    workers: Annotated[int, typer.Option(help="Clips processed at once (threads; ffmpeg and decoding release the GIL).")] = CropOptions.workers,
    shard: Annotated[Optional[str], typer.Option(help="Only this shard's videos: K/N (1-based), the same split as `vhq download --shard`.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="At most this many clips this run.")] = None,
    device: Annotated[str, typer.Option(help="Device for the face detector.")] = CropOptions.device,
    plan: Annotated[bool, typer.Option("--plan", help="Crop nothing: print how many clips the box rule keeps if every video were downloaded at --plan-height (no --videos/--out needed).")] = False,
    plan_height: Annotated[int, typer.Option(help="Download height assumed by --plan.")] = 1080,
) -> None:
    """Cut, face-check and resize the manifest's clips (resumable; see crop_status.csv)."""
    from vhq.dataset.crop import stage
    from vhq.errors import BadInput, VhqError

    if not plan and (videos is None or out is None):
        raise BadInput("vhq crop needs --videos and --out (or --plan to only count what the box rule keeps)")
    opts = CropOptions(
        out=out or Path("."), videos=videos or Path("."), size=size, format=format, crf=crf, preset=preset, gop=gop, box=box,
        enlarge=enlarge, min_crop=min_crop, min_inside=min_inside, face_check=face_check, face_threshold=face_threshold,
        face_samples=face_samples, cut_threshold=cut_threshold, cut_min_content=cut_min_content, min_frames=min_frames,
        workers=workers, device=device,
    )
    if plan:
        from vhq.dataset.crop import plan as crop_plan

        if plan_height < 16:
            raise BadInput(f"--plan-height {plan_height} must be >= 16")
        opts.validate()
        echo(crop_plan.describe(crop_plan.plan(M.load(manifest), opts, plan_height), opts))
        return
    summary = _run_stage(stage, manifest, opts, shard, limit)
    echo(stage.describe(summary))
    if summary.errors:
        first = summary.errors[0]
        for row in summary.errors[1:5]:
            info(f"also failed: {row['clip_id']}: {row['detail'][:200]}")
        raise VhqError(f"{len(summary.errors)} clip(s) failed; first {first['clip_id']} ({first['reason']}): {first['detail'][:300]}",
                       f"every failure is in {summary.table}; re-run the same command to retry them")


@app.command("split")
def split(
    crops: Annotated[Path, typer.Option("--crops", help="The `vhq crop --out` folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for train.csv, test.csv, split_report.md and split.json.")],
    manifest: Annotated[Optional[Path], typer.Option("--manifest", "-m", help="Manifest (default: the one recorded by `vhq crop`).")] = None,
) -> None:
    """Person-disjoint train/test lists of the cropped clips, with a report against FOMM and LIA."""
    from vhq.dataset.split import split as run_split

    r = run_split(crops, out, manifest)
    echo(r.report.rstrip())
    echo(f"wrote {r.paths['train']}, {r.paths['test']}, {r.paths['report']}")


@app.command("stats")
def stats(
    crops: Annotated[Path, typer.Argument(help="The `vhq crop --out` folder.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Where to write stats.json/.md/.png and DATASET_CARD.md (default: CROPS).")] = None,
) -> None:
    """Clips, identities, hours, resolution and duration histograms, and a dataset card."""
    from vhq.dataset.stats import stats as run_stats

    s = run_stats(crops, out)
    echo(s.table.rstrip())
    echo("wrote " + ", ".join(str(p) for p in s.paths.values()))
