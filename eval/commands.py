"""The ``vhq eval`` command: discovery, decoding and CSV writing around ``eval.runner``.

Kept free of heavy imports so ``vhq --help`` stays fast; the networks load inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def eval_command(
    pred: Annotated[Path, typer.Option("--pred", help="Folder of predicted videos (mp4 files or PNG-frame folders).")],
    gt: Annotated[Path, typer.Option("--gt", help="Folder of ground-truth videos, matched to --pred by relative path without extension.")],
    metrics: Annotated[str, typer.Option(help="Comma-separated: l1, lpips, akd, mkr, akd_dlib68, mkr_dlib68, aed.")] = "l1,lpips,akd,mkr,aed",
    protocol: Annotated[str, typer.Option(help="lia (L1/LPIPS video-weighted, rest frame-weighted) or fomm (all frame-weighted).")] = "lia",
    size: Annotated[Optional[int], typer.Option(help="Resize both sides to NxN (bilinear, antialiased) before scoring; default: the GT's native size.")] = None,
    out: Annotated[Path, typer.Option(help="Folder for per_video.csv and summary.csv.")] = Path("eval-out"),
    name: Annotated[Optional[str], typer.Option(help="Model name in summary/leaderboard rows (default: the --pred folder name).")] = None,
    leaderboard: Annotated[Optional[Path], typer.Option(help="Leaderboard CSV to merge this run's rows into (created if absent).")] = None,
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help="Score only keys present on both sides instead of failing.")] = False,
    truncate: Annotated[bool, typer.Option("--truncate", help="Score the common frame prefix when frame counts differ instead of failing.")] = False,
    batch_size: Annotated[int, typer.Option(help="Frames decoded per step (and per network call on GPU).")] = 16,
    aed_crop: Annotated[str, typer.Option(help="AED input: 'frame' (whole frame to 160x160, pose-evaluation-like) or 'mtcnn' (face crop).")] = "frame",
    aed_distance: Annotated[str, typer.Option(help="AED distance: 'squared' (pose-evaluation) or 'l2'.")] = "squared",
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1 … (default: this rank's GPU if any, else cpu).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the GT feature cache.")] = False,
) -> None:
    """Score predictions against ground truth (L1, LPIPS, AKD/MKR, AED) and write CSVs."""
    from vhq import console, distributed

    from . import catalog, pairing, report
    from .runner import EvalOptions, evaluate

    distributed.init()
    opts = EvalOptions(
        metrics=catalog.parse_metrics(metrics),
        protocol=catalog.check_protocol(protocol),
        size=size,
        batch_size=batch_size,
        aed_crop=aed_crop,
        aed_distance=aed_distance,
        device=device or str(distributed.default_device()),
        use_cache=not no_cache,
    )
    res = evaluate(pred, gt, opts, allow_missing=allow_missing, truncate=truncate)
    ps = res.pairset
    if ps.missing:
        console.warn(f"{len(ps.missing)} GT videos have no prediction and were not scored (--allow-missing)")
    if ps.truncated:
        console.warn(f"{len(ps.truncated)} videos scored on their common frame prefix (--truncate)")
    if distributed.rank() != 0:
        return
    model = name or Path(pred).resolve().name
    fp = pairing.fingerprint(ps.pairs)
    rows = report.leaderboard_rows(res.summary, model=model, testset=Path(gt).resolve().name, fingerprint=fp)
    per_video = report.write_per_video(out / "per_video.csv", [r.row for r in res.results], res.columns)
    summary = report.write_summary(out / "summary.csv", rows)
    size_txt = f"{opts.size}x{opts.size}" if opts.size else f"native {ps.native_size()}"
    console.echo(f"{model}: {len(res.results)} videos, {ps.frames} frames, protocol {opts.protocol}, size {size_txt}")
    for r in rows:
        flag = "" if r["weight_verified"] in ("True", "") else "  (unverified weights)"
        console.echo(f"  {r['metric']:<16} {r['value'] or 'n/a':>22}  {r['weighting']}-weighted{flag}")
    console.echo(str(per_video))
    console.echo(str(summary))
    if leaderboard is not None:
        console.echo(str(report.append_leaderboard(leaderboard, rows)))
