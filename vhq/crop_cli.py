"""``vhq crop``, ``vhq split`` and ``vhq stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .console import echo


def crop(
    manifest: Annotated[Path, typer.Option("--manifest", "-m", help="vhq manifest CSV (the one given to `vhq download`).")],
    videos: Annotated[Path, typer.Option("--videos", help="The `vhq download --out` folder (with download_status.csv).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for clips/ and crop_status.csv.")],
    size: Annotated[int, typer.Option(help="Output side in pixels (lanczos resize).")] = 512,
    format: Annotated[str, typer.Option("--format", help="mp4 (H.264) or png (a folder of 0000000.png… per clip, the FOMM/LIA training layout).")] = "mp4",
    crf: Annotated[int, typer.Option(help="libx264 CRF (17-18 keeps 512px faces visually lossless).")] = 17,
    preset: Annotated[str, typer.Option(help="libx264 preset.")] = "medium",
    gop: Annotated[int, typer.Option(help="Keyframe interval in frames (short so training can seek).")] = 25,
    enlarge: Annotated[float, typer.Option(help="Square side = ENLARGE x the manifest box's longer side (shrunk to fit the frame when needed).")] = 1.1,
    min_crop: Annotated[int, typer.Option(help="Drop clips whose crop square is smaller than this many source pixels.")] = 400,
    min_inside: Annotated[float, typer.Option(help="Drop clips with less than this fraction of the box inside the frame.")] = 0.9,
    face_check: Annotated[bool, typer.Option("--face-check/--no-face-check", help="Verify the face with MTCNN on sampled frames.")] = True,
    face_threshold: Annotated[float, typer.Option(help="Minimum median IoU between the detected face and the scaled box.")] = 0.15,
    face_samples: Annotated[int, typer.Option(help="Frames sampled for the face check.")] = 5,
    cut_threshold: Annotated[float, typer.Option(help="AdaptiveDetector adaptive_threshold for shot cuts.")] = 3.0,
    cut_min_content: Annotated[float, typer.Option(help="AdaptiveDetector min_content_val for shot cuts.")] = 15.0,
    min_frames: Annotated[int, typer.Option(help="After a cut, keep the longest shot only if it has at least this many frames.")] = 64,
    workers: Annotated[int, typer.Option(help="Clips processed at once (threads; ffmpeg and decoding release the GIL).")] = 1,
    shard: Annotated[Optional[str], typer.Option(help="Only this shard's videos: K/N (1-based), the same split as `vhq download --shard`.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="At most this many clips this run.")] = None,
    device: Annotated[str, typer.Option(help="Device for the face detector.")] = "cpu",
) -> None:
    """Cut, face-check and resize the manifest's clips (resumable; see crop_status.csv)."""
    from . import crop_run
    from . import manifest as M
    from .parallel import Shard

    m = M.load(manifest)
    opts = crop_run.Options(
        out=out, videos=videos, size=size, format=format, crf=crf, preset=preset, gop=gop, enlarge=enlarge, min_crop=min_crop,
        min_inside=min_inside, face_check=face_check, face_threshold=face_threshold, face_samples=face_samples,
        cut_threshold=cut_threshold, cut_min_content=cut_min_content, min_frames=min_frames, workers=workers, device=device,
    )
    summary = crop_run.run(m, opts, Shard.parse(shard), limit)
    echo(crop_run.describe(summary))
    if summary.errors:
        for row in summary.errors[:5]:
            echo(f"  {row['clip_id']}: {row['detail'][:200]}")
        echo(f"{len(summary.errors)} clip(s) failed: re-run the same command to retry them")
        raise typer.Exit(1)


def split(
    crops: Annotated[Path, typer.Option("--crops", help="The `vhq crop --out` folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for train.csv, test.csv, split_report.md and split.json.")],
    manifest: Annotated[Optional[Path], typer.Option("--manifest", "-m", help="Manifest (default: the one recorded by `vhq crop`).")] = None,
) -> None:
    """Person-disjoint train/test lists of the cropped clips, with a report against FOMM and LIA."""
    from .split import split as run_split

    r = run_split(crops, out, manifest)
    echo(r.report.rstrip())
    echo(f"wrote {r.paths['train']}, {r.paths['test']}, {r.paths['report']}")


def stats(
    crops: Annotated[Path, typer.Argument(help="The `vhq crop --out` folder.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Where to write stats.json/.md/.png and DATASET_CARD.md (default: CROPS).")] = None,
) -> None:
    """Clips, identities, hours, resolution and duration histograms, and a dataset card."""
    from .console import warn
    from .stats import stats as run_stats

    s = run_stats(crops, out)
    echo(s.table.rstrip())
    if "plot" not in s.paths:
        warn("matplotlib is not installed: no stats.png (pip install matplotlib)")
    echo("wrote " + ", ".join(str(p) for p in s.paths.values()))
