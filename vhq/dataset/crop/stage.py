"""``vhq crop``: manifest clips → ``OUT/clips/<clip_id>.mp4`` (or PNG folders), resumable.

Per clip, cheapest checks first:

1. find the downloaded file holding the clip (``download_status.csv``) and its offset;
2. the crop region by the ``--box`` rule (``vhq.dataset.crop.geometry``): ``out-of-frame`` / ``too-small``;
3. shot cuts in the clip's span (``vhq.dataset.crop.scenes``): keep the longest shot or drop ``scene-cut``;
4. the face on k frames of the kept shot (``vhq.dataset.crop.faces``): ``no-face``;
5. one ffmpeg pass: input seeking to the first frame, crop, lanczos resize to ``size``, H.264
   with a ``gop``-frame GOP (or PNGs), ``frames`` frames exactly, written to a temporary name and
   renamed into place. When the source is not at the manifest's fps (25), ffmpeg's fps filter
   resamples to it, picking the source frame nearest each 25 fps instant.

A clip whose row in ``crop_status.csv`` is final (``ok`` with its file present, or ``dropped``) with
the same parameters and the same source file is skipped, so re-runs only do what is left and a
killed run resumes to the same outputs (encoding is bit-exact for the same ffmpeg build). Every ``ok``
row records the sha256 and size of its output (a re-run adds them to rows written before they were).

One output folder holds one box rule: a run whose ``--box`` differs from the rule recorded in the
folder's tables is refused before any work, since the clips of two rules differ in framing and a
split over the folder would mix them without saying so.
"""

from __future__ import annotations

import glob
import json
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from vhq import __version__
from vhq.console import info, progress
from vhq.dataset.crop import status as crop_status
from vhq.dataset.crop.faces import Detector, Prefetch, check
from vhq.dataset.crop.geometry import VHQ, Region, Rejected, Source, Timing, crop_region, locate, timing
from vhq.dataset.crop.options import Options, write_run
from vhq.dataset.crop.scenes import Segment, find_cuts, keep_segment
from vhq.dataset.download import status as download_status
from vhq.dataset.manifest import Clip, Manifest
from vhq.errors import BadInput, MediaError, OutputError, VhqError
from vhq.io import files
from vhq.io.video import ffmpeg_exe, probe
from vhq.parallel import Shard, map_unordered

CLIPS = "clips"


def output_path(out: Path, clip_id: str, fmt: str) -> Path:
    return out / CLIPS / (clip_id + ".mp4" if fmt == "mp4" else clip_id)


def params_key(clip: Clip, source: Source | None, opts: Options) -> str:
    src = ""
    if source is not None:
        st = source.path.stat()
        src = f"{source.rel}|{st.st_size}|{source.offset:.6f}"
    params = opts.params()
    if params["box"] == VHQ:  # the rule before --box existed: folders cropped then keep their keys
        del params["box"]
    return files.sha256_strings([json.dumps(params, sort_keys=True), json.dumps(clip.as_row(), sort_keys=True), src])[:16]


def check_box_rule(earlier: dict[str, dict], opts: Options) -> None:
    """Refuse to add clips of one box rule to a folder cropped with another."""
    rules: dict[str, int] = {}
    for row in earlier.values():
        rules[crop_status.box_rule(row)] = rules.get(crop_status.box_rule(row), 0) + 1
    other = {r: n for r, n in rules.items() if r != opts.box}
    if other:
        was = ", ".join(f"{n} clip(s) with --box {r}" for r, n in sorted(other.items()))
        raise BadInput(f"{opts.out}: crop_status records {was}; this run asks for --box {opts.box}",
                       f"give --box {opts.box} its own --out folder, or re-run with --box {next(iter(other))}")


def fingerprint_output(path: Path) -> tuple[str, int]:
    """(sha256, bytes) of a clip: the mp4's own, or for a PNG folder the sha256 of its ``name sha256`` lines."""
    if path.is_file():
        return files.sha256_file(path), path.stat().st_size
    frames = sorted(p for p in path.iterdir() if p.is_file())
    return files.sha256_strings([f"{p.name} {files.sha256_file(p)}" for p in frames]), sum(p.stat().st_size for p in frames)


# ----------------------------------------------------------------------------------------------
# The ffmpeg pass


def ffmpeg_command(src: Path, t: Timing, sq: Region, frames: int, opts: Options, dest: Path) -> list[str]:
    """Input-seek to half a source frame before the first wanted frame, then cut ``frames`` frames."""
    half = 0.5 / t.src_fps
    filters = []
    if t.resample:
        ss = max(0.0, t.t0 - half)
        # fps picks the last source frame before each output slot's upper edge; shifting the slots
        # by half an output frame minus half a source frame makes that the nearest source frame.
        start = t.t0 - ss - 0.5 / t.out_fps + half - 1e-4
        filters.append(f"fps=fps={t.out_fps:g}:start_time={start:.6f}:round=near")
    else:
        ss = max(0.0, t.first / t.src_fps - half)
    filters += [f"crop={sq.width}:{sq.height}:{sq.x}:{sq.y}:exact=1", f"scale={opts.size}:{opts.size}:flags=lanczos", "setpts=PTS-STARTPTS"]
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-ss", f"{ss:.6f}", "-i", str(src),
           "-map", "0:v:0", "-an", "-sn", "-dn", "-map_metadata", "-1", "-vf", ",".join(filters), "-frames:v", str(frames),
           "-fflags", "+bitexact", "-flags:v", "+bitexact"]
    if opts.format == "mp4":
        cmd += ["-c:v", "libx264", "-crf", str(opts.crf), "-preset", opts.preset, "-g", str(opts.gop), "-pix_fmt", "yuv420p",
                "-movflags", "+faststart", str(dest)]
    else:
        cmd += ["-start_number", "0", "-pix_fmt", "rgb24", str(dest / "%07d.png")]
    return cmd


def encode(src: Path, t: Timing, sq: Region, frames: int, opts: Options, dest: Path) -> Path:
    with files.atomic_path(dest, suffix=".mp4" if opts.format == "mp4" else "") as tmp:
        if opts.format == "png":
            tmp.mkdir()
        r = subprocess.run(ffmpeg_command(src, t, sq, frames, opts, tmp), capture_output=True, text=True)
        if r.returncode == -signal.SIGXFSZ or "File too large" in r.stderr:
            raise OutputError(f"{dest}: the file-size limit was reached while encoding", "raise it (ulimit -f) and re-run")
        if "No space left" in r.stderr:
            raise OutputError(f"{dest}: no space left on the device", "free some space and re-run")
        if r.returncode != 0:
            raise MediaError(f"{src}: ffmpeg failed cutting {dest.name}: {' | '.join(r.stderr.strip().splitlines()[-3:])}")
        got = probe(tmp).frames
        if got != frames:
            raise MediaError(f"{src}: ffmpeg wrote {got} frames for {dest.name}, expected {frames} (the source ends early?)")
    return dest


# ----------------------------------------------------------------------------------------------
# One clip


@dataclass
class Context:
    opts: Options
    downloads: dict[str, dict]
    detector: Detector
    probes: dict = field(default_factory=dict)


def _remove_stale_temps(out: Path, clip_id: str) -> None:
    for p in glob.glob(str(out / CLIPS / f".{glob.escape(clip_id)}.*part*")):
        files.remove(Path(p))


def process(clip: Clip, ctx: Context, source: Source | None, key: str) -> dict:
    opts = ctx.opts
    row: dict = {
        "clip_id": clip.clip_id, "video_id": clip.video_id, "person_id": clip.person_id, "partition": clip.partition,
        "start_frame": clip.start_frame, "end_frame": clip.end_frame, "out_fps": f"{clip.fps:g}",
        **opts.params(), "params_key": key, "vhq_version": __version__,
    }
    try:
        if source is None:
            source = locate(clip, ctx.downloads.get(clip.video_id), opts.videos)
        row.update(source=source.rel, source_offset=f"{source.offset:.3f}")
        vi = ctx.probes.get(source.path) or probe(source.path)
        ctx.probes[source.path] = vi
        row.update(source_width=vi.width, source_height=vi.height, source_fps=f"{vi.fps:.3f}".rstrip("0").rstrip("."))
        t = timing(clip, source, vi.fps, vi.frames)
        row["resampled"] = int(t.resample)
        sq = crop_region(clip, vi.width, vi.height, opts.box, opts.factor, opts.min_crop, opts.min_inside)
        row.update(box_left=sq.box[0], box_top=sq.box[1], box_right=sq.box[2], box_bottom=sq.box[3], crop_x=sq.x, crop_y=sq.y,
                   crop_side=sq.side, crop_width=sq.width, crop_height=sq.height, enlarge_used="" if sq.enlarge is None else sq.enlarge,
                   shift_x=sq.shift[0], shift_y=sq.shift[1])
        prefetch = Prefetch(t, sq, clip.frames, opts.face_samples) if opts.face_check else None
        cuts = find_cuts(source.path, t, clip.frames, opts.cut_threshold, opts.cut_min_content, on_frame=prefetch)
        row["cuts"] = ";".join(map(str, cuts))
        seg: Segment = keep_segment(clip.frames, cuts, opts.min_frames)
        row.update(out_start_frame=clip.start_frame + seg.start, out_end_frame=clip.start_frame + seg.end,
                   trimmed_head=seg.start, trimmed_tail=clip.frames - seg.end, frames=seg.frames)
        if opts.face_check:
            score = check(ctx.detector, source.path, t, sq, seg, opts.face_samples, opts.face_threshold, prefetch.squares)
            row.update(face_iou=score.iou, face_ious=";".join(map(str, score.ious)), face_frames=";".join(map(str, score.frames)))
        dest = output_path(opts.out, clip.clip_id, opts.format)
        _remove_stale_temps(opts.out, clip.clip_id)
        encode(source.path, shift(t, seg.start), sq, seg.frames, opts, dest)
        sha, size = fingerprint_output(dest)
        row.update(status=crop_status.OK, output=dest.relative_to(opts.out).as_posix(), output_sha256=sha, output_bytes=size)
    except Rejected as r:
        final = r.reason not in ("not-downloaded", "not-in-download")
        row.update(status=crop_status.DROPPED if final else crop_status.SKIPPED, reason=r.reason, detail=r.detail)
        for k, v in r.values.items():
            row[k] = ";".join(map(str, v)) if isinstance(v, tuple) else v
        if final:  # a clip dropped now must not keep an output from an earlier run with other settings
            files.remove(output_path(opts.out, clip.clip_id, opts.format))
    except OutputError as e:
        row.update(status=crop_status.ERROR, reason="cannot-write", detail=e.message)
    except VhqError as e:
        row.update(status=crop_status.ERROR, reason="media-error", detail=e.message)
    except Exception as e:  # noqa: BLE001 - recorded per clip; the run goes on and exits non-zero
        row.update(status=crop_status.ERROR, reason="unexpected", detail=f"{e.__class__.__name__}: {e}")
    return row


def shift(t: Timing, k: int) -> Timing:
    """The same clip timing starting ``k`` output frames later (after trimming the head)."""
    if k == 0:
        return t
    t0 = t.t0 + k / t.out_fps
    first = t.first + k if not t.resample else int(round(t0 * t.src_fps))
    return Timing(t0, t.t1, t.src_fps, t.out_fps, first, t.resample)


# ----------------------------------------------------------------------------------------------
# The run


@dataclass
class Summary:
    counts: dict[str, int]
    reasons: dict[str, int]
    done_before: int
    errors: list[dict]
    table: Path


def _done(row: dict | None, key: str, opts: Options) -> bool:
    if not row or row.get("status") not in crop_status.FINAL or row.get("params_key") != key:
        return False
    return row["status"] != crop_status.OK or (opts.out / row.get("output", "")).exists() and bool(row.get("output"))


def run(manifest: Manifest, opts: Options, shard: Shard = Shard(), limit: int | None = None) -> Summary:
    opts.validate()
    files.check_writable(opts.out, folder=True)
    downloads = download_status.read(opts.videos)
    if not downloads:
        raise BadInput(f"--videos {opts.videos}: no download_status.csv", "run `vhq download --manifest M --out DIR` first and pass that DIR")
    earlier = crop_status.read(opts.out)
    check_box_rule(earlier, opts)
    todo, done_before, unhashed = [], 0, []
    for clip in shard.select(manifest.clips, key=lambda c: c.video_id):
        try:
            source = locate(clip, downloads.get(clip.video_id), opts.videos)
        except Rejected:
            source = None
        key = params_key(clip, source, opts)
        if _done(earlier.get(clip.clip_id), key, opts):
            done_before += 1
            if earlier[clip.clip_id]["status"] == crop_status.OK and not earlier[clip.clip_id].get("output_sha256"):
                unhashed.append(earlier[clip.clip_id])  # cropped before crops were hashed
            continue
        todo.append((clip, source, key))
    if limit is not None:
        todo = todo[:limit]
    (opts.out / CLIPS).mkdir(parents=True, exist_ok=True)  # only now: bad input above leaves nothing behind
    # the table is this shard's lock: a second run on the same shard stops here, before writing anything
    table = crop_status.open_table(opts.out, shard, {k: v for k, v in earlier.items() if shard.count == 1 or shard.owns(v.get("video_id", ""))})
    try:
        write_run(manifest, opts)
        ctx = Context(opts, downloads, Detector(opts.device))
    except BaseException:
        table.close()
        raise
    counts: dict[str, int] = {}
    reasons: dict[str, int] = {}
    errors: list[dict] = []
    import torch

    info(f"vhq crop: {len(todo)} clip(s) to do, {done_before} done before; {opts.size}px {opts.format}"
         f"{f' crf {opts.crf}' if opts.format == 'mp4' else ''}; table {table.path}")
    for row in unhashed:
        sha, size = fingerprint_output(opts.out / row["output"])
        table.put({**row, "output_sha256": sha, "output_bytes": size})
    if unhashed:
        info(f"vhq crop: recorded the sha256 and size of {len(unhashed)} clip(s) cropped by an earlier version")
    threads = torch.get_num_threads()
    try:
        # MTCNN runs on small images: one thread each is fastest, and with several threads per worker
        # on a busy machine OpenMP spins (measured: 50 ms vs 3 s per detection on 2 cores).
        torch.set_num_threads(1)
        results = map_unordered(lambda it: process(it[0], ctx, it[1], it[2]), todo, workers=opts.workers)
        for item, row in progress(results, total=len(todo), desc="crop"):
            if isinstance(row, BaseException):  # process() records everything; this is a bug
                raise row
            table.put(row)
            counts[row["status"]] = counts.get(row["status"], 0) + 1
            if row.get("reason"):
                reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
            if row["status"] == crop_status.ERROR:
                errors.append(row)
    finally:
        table.close()
        torch.set_num_threads(threads)
    return Summary(counts, reasons, done_before, errors, table.path)


def describe(s: Summary) -> str:
    parts = [f"{k} {v}" for k, v in sorted(s.counts.items())] or ["nothing to do"]
    why = ", ".join(f"{k} {v}" for k, v in sorted(s.reasons.items()))
    return f"{', '.join(parts)}{f' ({why})' if why else ''}; {s.done_before} done in an earlier run; table {s.table}"

