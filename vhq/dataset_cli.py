"""``vhq manifest …`` and ``vhq download``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .console import echo, info

manifest_app = typer.Typer(no_args_is_help=True, help="The clip manifest: import FOMM's vox-metadata.csv, inspect a manifest.")


@manifest_app.command("import-fomm")
def import_fomm(
    source: Annotated[Optional[str], typer.Argument(help="Path or URL of FOMM's vox-metadata.csv (default: its public URL).")] = None,
    out: Annotated[Path, typer.Option(help="Manifest to write (plus OUT.json with counts and provenance).")] = Path("manifests/voxceleb.csv"),
    sha256: Annotated[Optional[str], typer.Option(help="Expected sha256 of SOURCE ('' = don't check). Default: FOMM's published file is checked when SOURCE is its URL.")] = None,
) -> None:
    """Convert FOMM's vox-metadata.csv into a deduplicated, person-disjoint vhq manifest."""
    from . import manifest as M

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
    from . import manifest as M

    m = M.load(manifest)
    echo(M.describe(m))
    echo(f"fingerprint {m.fingerprint}")
    meta = M.read_meta(manifest)
    if meta.get("fingerprint") and meta["fingerprint"] != m.fingerprint:
        info(f"warning: {M.meta_path(manifest)} records fingerprint {meta['fingerprint'][:16]}…; the manifest was edited after it was written")


def download(
    manifest: Annotated[Path, typer.Option("--manifest", "-m", help="vhq manifest CSV (see `vhq manifest import-fomm`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the videos and download_status.csv.")],
    min_height: Annotated[int, typer.Option(help="Skip videos whose best video stream is smaller than this height.")] = 1080,
    prefer_best: Annotated[bool, typer.Option("--prefer-best", help="Download the largest stream instead of the smallest one >= --min-height.")] = False,
    full: Annotated[bool, typer.Option("--full", help="Download whole videos instead of the padded time ranges the manifest needs.")] = False,
    pad: Annotated[float, typer.Option(help="Seconds of padding around each clip's time range.")] = 2.0,
    crf: Annotated[int, typer.Option(help="libx264 CRF of the re-encoded sections (they start exactly on a frame; --full keeps the original stream).")] = 16,
    workers: Annotated[int, typer.Option(help="Videos downloaded at once.")] = 2,
    shard: Annotated[Optional[str], typer.Option(help="Only this shard's videos: K/N (1-based), e.g. 1/4 on the first of four machines.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="At most this many videos this run.")] = None,
    sleep: Annotated[float, typer.Option(help="Seconds each worker waits after a video (YouTube lets a guest fetch ~300 videos an hour).")] = 5.0,
    sleep_requests: Annotated[float, typer.Option(help="Seconds between yt-dlp's extraction requests.")] = 0.75,
    backoff: Annotated[float, typer.Option(help="First pause of all workers after a rate limit, in seconds; doubles while rate limits continue.")] = 3600.0,
    attempts: Annotated[int, typer.Option(help="Tries per video while it is rate-limited.")] = 3,
    cookies: Annotated[Optional[Path], typer.Option(help="Netscape cookies.txt for yt-dlp (age-restricted videos, bot checks).")] = None,
    proxy: Annotated[Optional[str], typer.Option(help="Proxy URL for yt-dlp and its ffmpeg.")] = None,
    url_template: Annotated[str, typer.Option(help="Video URL with {video_id}.")] = "https://www.youtube.com/watch?v={video_id}",
    retry_status: Annotated[Optional[list[str]], typer.Option(help="Also retry videos with this final status (repeatable), e.g. age-restricted after adding --cookies.")] = None,
) -> None:
    """Download the manifest's YouTube videos at >= --min-height (resumable; see download_status.csv)."""
    from . import download as D
    from . import manifest as M
    from .errors import BadInput
    from .parallel import Shard

    if "{video_id}" not in url_template and "{id}" not in url_template:
        raise BadInput(f"--url-template {url_template!r} has no {{video_id}}")
    if cookies is not None and not cookies.is_file():
        raise BadInput(f"--cookies {cookies}: no such file")
    if workers < 1 or (limit is not None and limit < 0) or attempts < 1:
        raise BadInput("--workers and --attempts must be >= 1 and --limit >= 0")
    m = M.load(manifest)
    opts = D.Options(
        out=out, min_height=min_height, prefer_best=prefer_best, full=full, pad=pad, crf=crf,
        workers=workers, sleep=sleep, sleep_requests=sleep_requests, backoff=backoff, attempts=attempts,
        cookies=str(cookies) if cookies else None, proxy=proxy, url_template=url_template, retry_status=tuple(retry_status or ()),
    )
    summary = D.run(m, opts, Shard.parse(shard), limit)
    done = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items())) or "nothing to do"
    echo(f"{done}; {summary.skipped} skipped (final in an earlier run); table {summary.table}")
    if summary.retryable:
        echo(f"{len(summary.retryable)} video(s) can be retried: re-run the same command")
        raise typer.Exit(1)
