"""``vhq download``: the manifest's YouTube videos at >= 1080p, resumable, polite to rate limits.

One task per YouTube id:

1. probe the formats once (``extract_info(download=False)``; format URLs expire, so the download
   follows right away from the same info dict);
2. skip the id (final ``below-min-height``) when its best video stream is below ``min_height``;
3. pick the *smallest* video-only stream at or above ``min_height`` (``prefer_best``: the largest);
4. download only the time ranges the manifest needs, padded by ``pad`` seconds and merged where
   they overlap (``full``: the whole video). Sections are cut by yt-dlp's ffmpeg downloader; the
   start is snapped to a frame of the source and the section is re-encoded from there
   (``force_keyframes_at_cuts``, libx264 at ``crf``) so the file starts on that frame. The file's
   real start is then measured (first frame's time) and recorded. (A stream copy would snap to
   the keyframe before and hide the extra frames behind an mp4 edit list, which frame readers
   disagree about; ``full`` keeps the original stream untouched instead.);
5. move the files into ``OUT/<video_id>/`` and record one row in the status table.

Everything is downloaded into ``OUT/.incomplete/<video_id>/`` first; a complete section is renamed
there by yt-dlp only after ffmpeg exits cleanly, so a killed run leaves ``.part`` files that a
re-run restarts (never counts as done), and sections already complete are kept.
"""

from __future__ import annotations

import copy
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from vhq.console import info, progress, warn
from vhq.dataset.download import status as download_status
from vhq.dataset.download.backoff import PauseGate
from vhq.dataset.download.options import Options
from vhq.dataset.download.plan import choose_format, plan_sections, section_name
from vhq.dataset.manifest import Clip, Manifest
from vhq.errors import BadInput, MediaError
from vhq.io import files
from vhq.io.video import ffmpeg_exe, measure
from vhq.parallel import Shard, map_unordered

INCOMPLETE = ".incomplete"


@dataclass
class Result:
    row: dict
    pauses: list[float] = field(default_factory=list)


def yt_dlp_version() -> str:
    from yt_dlp.version import __version__

    return __version__


def deno_path() -> str | None:
    """The deno binary from the ``deno`` wheel (yt-dlp's JavaScript runtime for YouTube's challenges)."""
    try:
        import deno

        return deno.find_deno_bin()
    except (ImportError, FileNotFoundError):
        return None


def _fps(fps) -> str:
    return f"{float(fps):.3f}".rstrip("0").rstrip(".") if fps else ""


# ----------------------------------------------------------------------------------------------
# yt-dlp


class _Log:
    """yt-dlp logger that keeps messages (for the status reason) instead of printing them."""

    def __init__(self):
        self.messages: list[str] = []

    def debug(self, msg):
        pass

    def info(self, msg):
        pass

    def warning(self, msg):
        self.messages.append(str(msg))

    def error(self, msg):
        self.messages.append(str(msg))


def ydl_options(opts: Options, log: _Log) -> dict:
    p = {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": log,
        "noplaylist": True,
        "ignoreerrors": False,
        "socket_timeout": opts.socket_timeout,
        "retries": 3,
        "fragment_retries": 3,
        "extractor_retries": 1,
        "retry_sleep_functions": {"http": lambda n: min(2.0 ** n, 30.0), "fragment": lambda n: min(2.0 ** n, 30.0)},
        "sleep_interval_requests": opts.sleep_requests,
        "ffmpeg_location": ffmpeg_exe(),
        "continuedl": True,
        "overwrites": None,
        "fixup": "never",
        "check_formats": False,
        "cachedir": False,
        "hls_prefer_native": False,
        "proxy": opts.proxy if opts.proxy is not None else "",
    }
    deno = deno_path()
    p["js_runtimes"] = {"deno": {"path": deno}} if deno else {}
    if opts.cookies:
        p["cookiefile"] = opts.cookies
    return p


class _Cancelled(Exception):
    pass


def _use_our_ffmpeg() -> None:
    """Point yt-dlp's own ffmpeg checks at imageio-ffmpeg's binary.

    ``ffmpeg_location`` alone is not enough: yt-dlp decides whether ffmpeg can cut sections with a
    check that reads a context variable (set by its command line, per thread) instead of the
    option, and otherwise looks for ``ffmpeg`` on PATH.
    """
    from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor

    FFmpegPostProcessor._ffmpeg_location.set(ffmpeg_exe())


def _probe(url: str, opts: Options, log: _Log) -> dict:
    import yt_dlp

    _use_our_ffmpeg()
    with yt_dlp.YoutubeDL({**ydl_options(opts, log), "format": "bv*/b"}) as ydl:
        info = ydl.extract_info(url, download=False)
        return ydl.sanitize_info(info)


def _download_section(info: dict, fmt: dict, span: tuple[float, float] | None, stage: Path, name: str, opts: Options, log: _Log) -> Path:
    """Download one section (or the whole video when ``span`` is None) into ``stage``; returns the file."""
    import yt_dlp

    done = [p for p in stage.glob(name + ".*") if not p.name.endswith((".part", ".ytdl")) and ".part" not in p.suffixes and ".temp" not in p.suffixes]
    for p in done:
        try:
            measure(p)
            return p  # finished by an earlier (killed) run
        except MediaError:
            p.unlink()
    p = {
        **ydl_options(opts, log),
        "format": fmt["format_id"],
        "paths": {"home": str(stage), "temp": str(stage)},
        "outtmpl": {"default": name + ".%(ext)s"},
    }
    if span is not None:
        from yt_dlp.utils import download_range_func

        p["download_ranges"] = download_range_func(None, [span])
        p["force_keyframes_at_cuts"] = True
        p["external_downloader_args"] = {"ffmpeg_o": ["-an", "-c:v", "libx264", "-crf", str(opts.crf), "-preset", "veryfast", "-pix_fmt", "yuv420p"]}
    _use_our_ffmpeg()
    with yt_dlp.YoutubeDL(p) as ydl:
        ydl.process_ie_result(copy.deepcopy(info), download=True)
    out = [q for q in stage.glob(name + ".*") if not q.name.endswith((".part", ".ytdl")) and ".part" not in q.suffixes]
    if not out:
        raise MediaError(f"{stage}/{name}: yt-dlp finished without writing the file")
    return out[0]


class Downloader:
    def __init__(self, opts: Options, gate: PauseGate, stop: threading.Event | None = None):
        self.opts = opts
        self.gate = gate
        self.stop = stop or threading.Event()
        self._first = threading.local()

    def url(self, video_id: str) -> str:
        return self.opts.url_template.format(video_id=video_id, id=video_id)

    def _row(self, vid: str, status: str, reason: str = "", **kw) -> dict:
        return {"video_id": vid, "status": status, "reason": reason, "yt_dlp_version": yt_dlp_version(), **kw}

    def run(self, video_id: str, clips: list[Clip]) -> Result:
        """One video, with retries while the pool pauses for rate limits."""
        pauses: list[float] = []
        row: dict = {}
        for attempt in range(1, max(1, self.opts.attempts) + 1):
            self.gate.wait()
            if self.stop.is_set():
                raise _Cancelled()
            started = self.gate.now()
            row = self.attempt(video_id, clips)
            if row["status"] not in download_status.PAUSING:
                if row["status"] == download_status.OK:
                    self.gate.reset()
                break
            left = self.gate.trip(started)
            pauses.append(left)
            if attempt < self.opts.attempts:
                warn(f"{video_id}: {row['status']} ({row['reason'][:120]}); all workers pause {left:.0f}s")
        if pauses:
            row["reason"] = (row["reason"] + "; " if row["reason"] else "") + \
                f"paused all workers {len(pauses)}x ({', '.join(f'{p:.0f}s' for p in pauses)})"
        if self.opts.sleep > 0 and not self.stop.is_set():
            self.stop.wait(self.opts.sleep)
        return Result(row, pauses)

    def attempt(self, video_id: str, clips: list[Clip]) -> dict:
        from yt_dlp.utils import DownloadError

        log = _Log()
        opts = self.opts
        try:
            info = _probe(self.url(video_id), opts, log)
        except DownloadError as e:
            return self._error_row(video_id, e, log)
        if info.get("_type") not in (None, "video"):
            return self._row(video_id, "unexpected", f"the URL is a {info.get('_type')}, not a video")
        fmt, best = choose_format(info, opts.min_height, opts.prefer_best)
        if best is None:
            return self._row(video_id, "no-formats", "the probe found no video formats with a known height")
        if fmt is None:
            return self._row(video_id, download_status.BELOW_MIN_HEIGHT, f"best video stream is {best.get('width')}x{best['height']}, below {opts.min_height}",
                             height=best["height"], width=best.get("width") or "", fps=_fps(best.get("fps")), format=best.get("format_id", ""))
        stage = opts.out / INCOMPLETE / video_id
        stage.mkdir(parents=True, exist_ok=True)
        src_fps = float(fmt.get("fps") or info.get("fps") or 25.0)
        spans: list[tuple[float, float] | None]
        if opts.full:
            spans = [None]
        else:
            spans = plan_sections(clips, opts.pad, src_fps, info.get("duration"))
            if not spans:
                return self._row(video_id, "unexpected", "no time range to download (clips beyond the video's duration?)")
        produced: list[tuple[Path, float, float]] = []
        try:
            for span in spans:
                name = video_id if span is None else section_name(video_id, *span)
                path = _download_section(info, fmt, span, stage, name, opts, log)
                first, dur, w, h, fps = measure(path)
                start = (span[0] if span else 0.0) + first
                produced.append((path, start, start + dur))
                if self.stop.is_set():
                    raise _Cancelled()
        except DownloadError as e:
            return self._error_row(video_id, e, log)
        except MediaError as e:
            return self._row(video_id, "unexpected", e.message)
        final_dir = opts.out / video_id
        done_dir = stage / ".done"
        shutil.rmtree(done_dir, ignore_errors=True)
        done_dir.mkdir()
        names = []
        for path, _, _ in produced:
            os.replace(path, done_dir / path.name)
            names.append(f"{video_id}/{path.name}")
        files.replace_dir(done_dir, final_dir)
        shutil.rmtree(stage, ignore_errors=True)
        return self._row(
            video_id, download_status.OK, "",
            height=h, width=w, fps=_fps(fps),
            format=f"{fmt.get('format_id')} {(fmt.get('vcodec') or '').split('.')[0]} {fmt.get('width')}x{fmt.get('height')}",
            file=";".join(names), sections=download_status.format_sections([(a, b) for _, a, b in produced]),
        )

    def _error_row(self, vid: str, e: Exception, log: _Log) -> dict:
        msg = str(e)
        cause = getattr(e, "exc_info", None)
        if cause and cause[1] is not None and str(cause[1]) not in msg:
            msg += f" ({cause[1]})"
        from yt_dlp.utils import GeoRestrictedError

        status = "geo-blocked" if cause and isinstance(cause[1], GeoRestrictedError) else download_status.classify(msg)
        if status == "unexpected":
            for m in log.messages:
                s = download_status.classify(m)
                if s != "unexpected":
                    status = s
                    break
        msg = msg.replace("ERROR: ", "").strip().splitlines()[0] if msg.strip() else type(e).__name__
        return self._row(vid, status, msg[:300])


# ----------------------------------------------------------------------------------------------
# The batch


@dataclass
class Summary:
    counts: dict[str, int]
    skipped: int
    retryable: list[str]
    table: Path


def select(manifest: Manifest, done: dict[str, dict], shard: Shard, limit: int | None, retry_status: tuple[str, ...], out: Path) -> tuple[list[str], int]:
    """Video ids to do this run (shard, not final yet, at most ``limit``) and how many were skipped."""
    todo, skipped = [], 0
    for vid in shard.select(sorted(manifest.by_video()), key=str):
        row = done.get(vid)
        if row and download_status.is_final(row["status"]) and row["status"] not in retry_status:
            if row["status"] != download_status.OK or all(s.file.is_file() for s in download_status.sections(row, out)):
                skipped += 1
                continue
        todo.append(vid)
    if limit is not None:
        todo = todo[:limit]
    return todo, skipped


def run(manifest: Manifest, opts: Options, shard: Shard = Shard(), limit: int | None = None) -> Summary:
    for s in opts.retry_status:
        if s not in download_status.FINAL + download_status.RETRYABLE:
            raise BadInput(f"--retry-status {s!r} is not a status", f"statuses: {', '.join(download_status.FINAL + download_status.RETRYABLE)}")
    opts.out.mkdir(parents=True, exist_ok=True)
    earlier = download_status.read(opts.out)
    todo, skipped = select(manifest, earlier, shard, limit, opts.retry_status, opts.out)
    owned = set(shard.select(manifest.by_video(), key=str)) if shard.count > 1 else None
    by_video = manifest.by_video()
    gate = PauseGate(opts.backoff)
    stop = threading.Event()
    dl = Downloader(opts, gate, stop)
    counts: dict[str, int] = {}
    table = download_status.open_table(opts.out, shard, {k: v for k, v in earlier.items() if owned is None or k in owned})
    try:
        info(f"download: {len(todo)} videos to do, {skipped} already final; yt-dlp {yt_dlp_version()}; "
             f"min height {opts.min_height}; {'whole videos' if opts.full else f'sections padded by {opts.pad:g}s'}; "
             f"status table {table.path}")
        results = map_unordered(lambda vid: dl.run(vid, by_video[vid]), todo, workers=opts.workers)
        for vid, res in progress(results, total=len(todo), desc="download"):
            if isinstance(res, BaseException):
                if isinstance(res, _Cancelled):
                    continue
                row = dl._row(vid, "unexpected", f"{type(res).__name__}: {res}"[:300])
            else:
                row = res.row
            table.put(row)
            counts[row["status"]] = counts.get(row["status"], 0) + 1
    except BaseException:
        stop.set()
        raise
    finally:
        table.close()
        try:
            (opts.out / INCOMPLETE).rmdir()  # only when empty: partial downloads stay for the next run
        except OSError:
            pass
    final_rows = {vid: table.rows.get(vid) for vid in todo}
    retryable = sorted(v for v, r in final_rows.items() if r is None or download_status.is_retryable(r["status"]))
    return Summary(counts, skipped, retryable, table.path)
