"""``vhq download``: the manifest's YouTube videos at >= 1080p, resumable, polite to rate limits.

One task per YouTube id:

1. probe the formats once (``extract_info(download=False)``; format URLs expire, so the download
   follows right away from the same info dict);
2. skip the id (final ``below-min-height``) when its best video stream is below ``min_height``;
3. pick the *smallest* video-only stream at or above ``min_height`` (``prefer_best``: the largest);
4. download only the time ranges the manifest needs, padded by ``pad`` seconds and merged where
   they overlap (``full``: the whole video). Sections are cut by yt-dlp's ffmpeg downloader; the
   start is snapped to a frame of the source and the section is re-encoded from there
   (``force_keyframes_at_cuts``, lossless libx264 unless ``crf`` > 0, into mp4 whatever the source's
   container) so the file starts on that frame and crop's encode is the only lossy one. The file's
   real start is then measured (first frame's time) and recorded. (A stream copy would snap to
   the keyframe before and hide the extra frames behind an mp4 edit list, which frame readers
   disagree about; ``full`` keeps the original stream untouched instead.);
5. measure every section against the span asked for: a short one (a dropped connection) is
   removed and the video recorded ``short-section``, retryable;
6. move the files into ``OUT/<video_id>/`` and record one row in the status table, with what the
   probe saw (warnings, player clients, versions) and each file's sha256 and size.

AI-upscaled formats never qualify. A "too small" answer given while yt-dlp said it skipped formats
is ``degraded-probe`` (retryable), not ``below-min-height``. Bot checks on ``max_bot_checks``
different videos in a row end the run: this IP (or these cookies) is flagged.

Everything is downloaded into ``OUT/.incomplete/<video_id>/`` first; a complete section is renamed
there by yt-dlp only after ffmpeg exits cleanly, so a killed run leaves ``.part`` files that a
re-run restarts (never counts as done), and sections already complete are kept.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from vhq import __version__
from vhq.console import info, progress, warn
from vhq.dataset.download import export
from vhq.dataset.download import status as download_status
from vhq.dataset.download.backoff import PauseGate
from vhq.dataset.download.options import Options
from vhq.dataset.download.plan import choose_format, only_format_18, plan_sections, section_name, video_formats
from vhq.dataset.download.ytdlp import (
    CookieCopies,
    Session,
    fmt_provenance,
    is_socks,
    parse_extractor_args,
    parse_ytdlp_opts,
    recorded_options,
    versions,
    yt_dlp_version,
)
from vhq.dataset.manifest import Clip, Manifest
from vhq.errors import BadInput, MediaError, NetworkError
from vhq.io import files
from vhq.io.lease import Lease
from vhq.io.video import measure, probe
from vhq.parallel import Shard, map_unordered

INCOMPLETE = ".incomplete"
WARNINGS_KEPT = 600  # characters of yt-dlp's warnings kept per row


@dataclass
class Result:
    row: dict
    pauses: list[float] = field(default_factory=list)


def _fps(fps) -> str:
    return f"{float(fps):.3f}".rstrip("0").rstrip(".") if fps else ""


class _Cancelled(Exception):
    pass


def short_by(span: tuple[float, float] | None, duration: float | None, start: float, end: float, fps: float) -> float:
    """Seconds missing at the end of a file holding ``start``–``end`` of the source, for the ``span`` asked (0: complete).

    YouTube gives a video's duration in whole seconds (rounded), so a span reaching into the last
    second may end up to half a second early; anywhere else a frame and a half is the tolerance.
    """
    want = span[1] if span is not None else duration
    if not want:
        return 0.0
    if duration:
        want = min(want, duration)
    slack = 1.5 / (fps or 25.0)
    if duration and want > duration - 1.0:
        slack += 0.5
    missing = want - end
    return missing if missing > slack else 0.0


class Downloader:
    def __init__(self, opts: Options, gate: PauseGate, stop: threading.Event | None = None):
        self.opts = opts
        self.gate = gate
        self.stop = stop or threading.Event()
        self._local = threading.local()
        self._sessions: list[Session] = []
        self._lock = threading.Lock()
        self.cookies = CookieCopies(opts.cookies)
        self.recorded_options = recorded_options(opts)
        self.streak: list[str] = []  # videos answered with a bot check since the last other answer
        self.flagged: list[str] | None = None  # the streak that ended the run

    def _note(self, video_id: str, status: str) -> None:
        """Count bot checks in a row (in the worker, so the next video is not started after the last straw)."""
        with self._lock:
            if status != download_status.BOT_CHECK:
                self.streak.clear()
                return
            if video_id not in self.streak:
                self.streak.append(video_id)
            if len(self.streak) >= self.opts.max_bot_checks and self.flagged is None:
                self.flagged = self.streak[:]
                self.stop.set()  # workers finish the video in hand; the rest stay undone
                self.gate.abort()

    def session(self) -> Session:
        s = getattr(self._local, "session", None)
        if s is None:
            with self._lock:
                s = Session(self.opts, self.cookies.new(), prefix=f" w{len(self._sessions) + 1}")
                self._sessions.append(s)
            self._local.session = s
        return s

    def close(self) -> None:
        for s in self._sessions:
            with contextlib.suppress(Exception):  # closing must not hide the run's outcome
                s.close()
        self.cookies.cleanup()

    def url(self, video_id: str) -> str:
        return self.opts.url_template.format(video_id=video_id, id=video_id)

    def _row(self, vid: str, status: str, reason: str = "", log=None, **kw) -> dict:
        row = {"video_id": vid, "status": status, "reason": reason, "yt_dlp_version": yt_dlp_version(), "versions": versions(),
               "vhq_version": __version__, "ytdlp_options": self.recorded_options, **kw}
        if log is not None:
            row["warnings"] = " | ".join(log.warnings)[:WARNINGS_KEPT]
            row["clients"] = ";".join(log.clients)
        return row

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
                elif row["status"] == download_status.BOT_CHECK:
                    warn(f"{video_id}: bot-check ({row['reason'][:160]})")
                break
            left = self.gate.trip(started)
            pauses.append(left)
            if attempt < self.opts.attempts:
                warn(f"{video_id}: {row['status']} ({row['reason'][:120]}); all workers pause {left:.0f}s")
        if pauses:
            row["reason"] = (row["reason"] + "; " if row["reason"] else "") + \
                f"paused all workers {len(pauses)}x ({', '.join(f'{p:.0f}s' for p in pauses)})"
        self._note(video_id, row["status"])
        if self.opts.sleep > 0 and not self.stop.is_set():
            self.stop.wait(self.opts.sleep)
        return Result(row, pauses)

    def attempt(self, video_id: str, clips: list[Clip]) -> dict:
        from yt_dlp.utils import DownloadError

        opts = self.opts
        session = self.session()
        log = session.log
        log.reset()
        try:
            info = session.probe(self.url(video_id))
        except DownloadError as e:
            return self._error_row(video_id, e, log)
        if info.get("_type") not in (None, "video"):
            return self._row(video_id, "unexpected", f"the URL is a {info.get('_type')}, not a video", log)
        fmt, best = choose_format(info, opts.min_height, opts.prefer_best)
        upscaled = video_formats(info, upscaled=True)
        degraded = list(log.degraded)
        if only_format_18(info):
            degraded.append("YouTube offered only format 18 (360p)")
        seen = {"max_height": best["height"] if best else "", "upscaled": int(bool(upscaled))}
        if best is None:
            status = download_status.DEGRADED_PROBE if degraded else "no-formats"
            reason = "the probe found no video formats with a known height" + (f"; yt-dlp: {degraded[0]}" if degraded else "")
            return self._row(video_id, status, reason[:300], log, **seen)
        if fmt is None:
            reason = f"best video stream is {best.get('width')}x{best['height']}, below {opts.min_height}"
            if upscaled:
                top = max(upscaled, key=lambda f: f["height"])
                reason += f"; the {top.get('width')}x{top['height']} format {top.get('format_id')} is AI-upscaled and never counts"
            status = download_status.BELOW_MIN_HEIGHT
            if degraded:
                status = download_status.DEGRADED_PROBE
                reason += f"; but yt-dlp skipped formats: {degraded[0]}"
            return self._row(video_id, status, reason[:400], log, height=best["height"], width=best.get("width") or "",
                             fps=_fps(best.get("fps")), format=best.get("format_id", ""), **seen)
        stage = opts.out / INCOMPLETE / video_id
        stage.mkdir(parents=True, exist_ok=True)
        src_fps = float(fmt.get("fps") or info.get("fps") or 25.0)
        duration = info.get("duration")
        spans: list[tuple[float, float] | None]
        if opts.full:
            spans = [None]
        else:
            spans = plan_sections(clips, opts.pad, src_fps, duration)
            if not spans:
                return self._row(video_id, "unexpected", "no time range to download (clips beyond the video's duration?)", log, **seen)
        produced: list[tuple[Path, float, float]] = []
        try:
            for span in spans:
                name = video_id if span is None else section_name(video_id, *span)
                path = self._finished(stage, name) or session.download(info, fmt, span, stage, name)
                first, _, w, h, fps = measure(path)
                n = probe(path).frames
                start = (span[0] if span else 0.0) + first
                end = start + n / (fps or src_fps)
                missing = short_by(span, duration, start, end, fps or src_fps)
                if missing:
                    files.remove(path)
                    want = f"{span[0]:.3f}-{span[1]:.3f}" if span else "the whole video"
                    return self._row(video_id, download_status.SHORT_SECTION,
                                     f"asked for {want} s, the file holds {start:.3f}-{end:.3f} s ({n} frames, {missing:.2f} s missing): "
                                     "the connection dropped? removed, retry", log, **seen)
                produced.append((path, start, end))
                if self.stop.is_set():
                    raise _Cancelled()
        except DownloadError as e:
            return self._error_row(video_id, e, log, **seen)
        except MediaError as e:
            return self._row(video_id, "unexpected", e.message, log, **seen)
        final_dir = opts.out / video_id
        done_dir = stage / ".done"
        shutil.rmtree(done_dir, ignore_errors=True)
        done_dir.mkdir()
        names, digests, sizes = [], [], []
        for path, _, _ in produced:
            digests.append(files.sha256_file(path))
            sizes.append(str(path.stat().st_size))
            os.replace(path, done_dir / path.name)
            names.append(f"{video_id}/{path.name}")
        files.replace_dir(done_dir, final_dir)
        shutil.rmtree(stage, ignore_errors=True)
        lmt, clen = fmt_provenance(fmt)
        return self._row(
            video_id, download_status.OK, "", log,
            height=h, width=w, fps=_fps(fps),
            format=f"{fmt.get('format_id')} {(fmt.get('vcodec') or '').split('.')[0]} {fmt.get('width')}x{fmt.get('height')}",
            file=";".join(names), sections=download_status.format_sections([(a, b) for _, a, b in produced]),
            file_sha256=";".join(digests), file_bytes=";".join(sizes), lmt=lmt, clen=clen, **seen,
        )

    @staticmethod
    def _finished(stage: Path, name: str) -> Path | None:
        """A section an earlier (killed) run completed: yt-dlp renames a file only after ffmpeg exits cleanly."""
        from vhq.dataset.download.ytdlp import _done

        for p in _done(stage, name):
            try:
                measure(p)
                return p
            except MediaError:
                p.unlink()
        return None

    def _error_row(self, vid: str, e: Exception, log, **kw) -> dict:
        msg = str(e)
        cause = getattr(e, "exc_info", None)
        if cause and cause[1] is not None and str(cause[1]) not in msg:
            msg += f" ({cause[1]})"
        from yt_dlp.utils import GeoRestrictedError

        status = "geo-blocked" if cause and isinstance(cause[1], GeoRestrictedError) else download_status.classify(msg)
        if status == "unexpected":
            for m in log.warnings + log.errors:
                s = download_status.classify(m)
                if s != "unexpected":
                    status = s
                    break
        msg = msg.replace("ERROR: ", "").strip().splitlines()[0] if msg.strip() else type(e).__name__
        return self._row(vid, status, msg[:300], log, **kw)


# ----------------------------------------------------------------------------------------------
# The batch


@dataclass
class Summary:
    counts: dict[str, int]
    skipped: int
    retryable: list[str]
    table: Path
    stopped: NetworkError | None = None  # why the run ended early (the CLI raises it after the summary)
    known: int = 0  # settled from --skip-known


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


def check_options(opts: Options) -> None:
    """Refuse what would fail for every video, before any work starts."""
    for s in opts.retry_status:
        if s not in download_status.FINAL:
            raise BadInput(f"--recheck {s!r} is not a final status", f"final statuses: {', '.join(download_status.FINAL)} "
                           "(retryable ones are retried anyway)")
    if not opts.pad >= 0:
        raise BadInput(f"--pad {opts.pad:g}: must be >= 0 seconds")
    if not 0 <= opts.crf <= 51:
        raise BadInput(f"--crf {opts.crf}: must be 0 (lossless) to 51")
    if opts.max_bot_checks < 1:
        raise BadInput("--max-bot-checks must be >= 1")
    if is_socks(opts.proxy) and not opts.full:
        raise BadInput(f"--proxy {opts.proxy.split('://')[0]}://…: sections are cut by ffmpeg, which cannot use a SOCKS proxy",
                       "use an HTTP(S) proxy, or --full (yt-dlp's own downloader honours SOCKS)")
    parse_extractor_args(opts.extractor_args)
    parse_ytdlp_opts(opts.ytdlp_opts)


def _bot_check_hint(vids: list[str]) -> NetworkError:
    return NetworkError(
        f"YouTube asked for a bot check on {len(vids)} videos in a row ({', '.join(vids)}): this IP or these cookies are flagged; "
        "the run stopped, its table is kept",
        "export fresh cookies from a private browser window (--cookies), switch to another IP, or add a PO-token provider "
        "plugin (see yt-dlp's PO Token Guide); then re-run the same command")


def lease_path(out: Path, shard: Shard) -> Path:
    """``OUT/download[.K-of-N].lease``: the lease of one shard's run."""
    tag = f".{shard.index}-of-{shard.count}" if shard.count > 1 else ""
    return Path(out) / f"download{tag}.lease"


def run(manifest: Manifest, opts: Options, shard: Shard = Shard(), limit: int | None = None) -> Summary:
    check_options(opts)
    known = export.read_known(opts.skip_known) if opts.skip_known else {}
    opts.out.mkdir(parents=True, exist_ok=True)
    by_video = manifest.by_video()
    owned = set(shard.select(by_video, key=str)) if shard.count > 1 else None
    with Lease(lease_path(opts.out, shard), "this shard is being downloaded", opts.lease_stale_s,
               "wait for that run to end, or give each machine its own --shard"):
        earlier = download_status.read(opts.out)
        todo, skipped = select(manifest, earlier, shard, limit, opts.retry_status, opts.out)
        table = download_status.open_table(opts.out, shard, {k: v for k, v in earlier.items() if owned is None or k in owned})
        counts: dict[str, int] = {}
        n_known = 0
        try:
            rest = []
            for vid in todo:
                row = export.known_row(known[vid], opts.min_height, opts.skip_known) if vid in known else None
                if row is None or row["status"] in opts.retry_status:
                    rest.append(vid)
                    continue
                table.put({**row, "vhq_version": __version__})
                n_known += 1
            todo = rest
            summary = _download(todo, by_video, opts, table, counts)
        finally:
            table.close()
            try:
                (opts.out / INCOMPLETE).rmdir()  # only when empty: partial downloads stay for the next run
            except OSError:
                pass
    summary.skipped, summary.known = skipped, n_known
    return summary


def _download(todo: list[str], by_video: dict, opts: Options, table, counts: dict[str, int]) -> Summary:
    gate = PauseGate(opts.backoff)
    stop = threading.Event()
    dl = Downloader(opts, gate, stop)
    try:
        info(f"download: {len(todo)} videos to do; {versions()}; "
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
        gate.abort()
        raise
    finally:
        dl.close()
    final_rows = {vid: table.rows.get(vid) for vid in todo}
    retryable = sorted(v for v, r in final_rows.items() if r is None or download_status.is_retryable(r["status"]))
    return Summary(counts, 0, retryable, table.path, stopped=_bot_check_hint(dl.flagged) if dl.flagged else None)
