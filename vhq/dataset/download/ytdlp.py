"""yt-dlp as ``vhq download`` drives it: options, one ``YoutubeDL`` per worker, its log, the versions.

One ``Session`` per worker thread keeps yt-dlp's extractors (and the YouTube player JS they solved)
for the whole run, and yt-dlp's disk cache lives under ``$VHQ_CACHE/yt-dlp``. Each session gets its
own copy of ``--cookies`` because yt-dlp writes the cookie jar back when it closes.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from vhq.console import info as say
from vhq.dataset.download.options import Options
from vhq.errors import BadInput
from vhq.io.cache import cache_root
from vhq.io.video import ffmpeg_exe

# Extra yt-dlp extractor classes tried before yt-dlp's own for the URLs they match (a stand-in site).
EXTRACTORS: list = []

# yt-dlp's warnings (lower case) for "this probe did not see every format". Only warnings count:
# yt-dlp logs the routine cases (its default clients' skipped formats, web's forced SABR) at debug level.
DEGRADED = (
    "formats have been skipped",
    "require a gvs po token",
    "some formats may be missing",
    "only images are available",
    "sabr-only",
)
CLIENT = re.compile(r"Downloading (.+?) player API JSON")
# Options vhq sets per video; passing them would break the stage.
RESERVED = ("format", "outtmpl", "paths", "download_ranges", "logger", "force_keyframes_at_cuts", "external_downloader_args",
            "cookiefile", "noplaylist", "overwrites", "continuedl")


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


def _first_line(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=20)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return ""


@functools.cache
def versions() -> str:
    """yt-dlp, its JS challenge solver, deno and ffmpeg, as recorded in every row."""
    from importlib import metadata

    try:
        ejs = metadata.version("yt-dlp-ejs")
    except metadata.PackageNotFoundError:
        ejs = "missing"
    deno = deno_path()
    deno_v = _first_line([deno, "--version"]).split(" ")[1] if deno and _first_line([deno, "--version"]) else "missing"
    ff = _first_line([ffmpeg_exe(), "-version"]).split(" ")
    ff_v = ff[2] if len(ff) > 2 else "unknown"
    return f"yt-dlp {yt_dlp_version()}; yt-dlp-ejs {ejs}; deno {deno_v}; ffmpeg {ff_v}"


def parse_extractor_args(texts) -> dict:
    """yt-dlp's ``--extractor-args`` syntax: ``IE:KEY=V1,V2;KEY2=V`` → ``{ie: {key: [v1, v2]}}``."""
    out: dict[str, dict[str, list[str]]] = {}
    for text in texts:
        ie, sep, rest = text.partition(":")
        if not sep or not ie.strip() or "=" not in rest:
            raise BadInput(f"--extractor-args {text!r} is not IE:KEY=VALUE[,VALUE][;KEY=VALUE]", "e.g. --extractor-args 'youtube:player_client=mweb'")
        args = out.setdefault(ie.strip().lower(), {})
        for part in filter(None, rest.split(";")):
            key, _, vals = part.partition("=")
            args[key.strip().replace("-", "_")] = [v.strip() for v in vals.split(",")]
    return out


def parse_ytdlp_opts(texts) -> dict:
    """``KEY=JSON`` pairs → YoutubeDL options; refuses the ones vhq sets per video."""
    out = {}
    for text in texts:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInput(f"--ytdlp-opt {text!r} is not KEY=JSON", "e.g. --ytdlp-opt 'source_address=\"0.0.0.0\"'")
        if key in RESERVED:
            raise BadInput(f"--ytdlp-opt {key}: vhq sets this option for every video", "use the matching vhq option instead")
        try:
            out[key] = json.loads(value)
        except ValueError as e:
            raise BadInput(f"--ytdlp-opt {text!r}: the value is not JSON ({e})", 'strings need quotes: KEY=\'"text"\'') from None
    return out


def recorded_options(opts: Options) -> str:
    """The user's yt-dlp settings as one JSON text (no cookies, no proxy: they may hold secrets)."""
    rec = {}
    if opts.extractor_args:
        rec["extractor_args"] = parse_extractor_args(opts.extractor_args)
    rec.update(parse_ytdlp_opts(opts.ytdlp_opts))
    return json.dumps(rec, sort_keys=True) if rec else ""


def is_socks(proxy: str | None) -> bool:
    return bool(proxy) and proxy.strip().lower().startswith("socks")


class Log:
    """yt-dlp's logger: keeps the warnings, the signs of a degraded probe and the player clients it asked."""

    def __init__(self, verbose: bool = False, prefix: str = ""):
        self.verbose = verbose
        self.prefix = prefix
        self.reset()

    def reset(self) -> None:
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.degraded: list[str] = []
        self.clients: list[str] = []

    def _see(self, msg: str) -> None:
        m = CLIENT.search(msg)
        if m and m.group(1) not in self.clients:
            self.clients.append(m.group(1))
        self._show(msg)

    def _show(self, msg: str) -> None:
        if self.verbose:
            say(f"[yt-dlp{self.prefix}] {msg}")

    def debug(self, msg):
        self._see(str(msg))

    def info(self, msg):
        self._see(str(msg))

    def warning(self, msg):
        msg = str(msg)
        if msg not in self.warnings:
            self.warnings.append(msg)
        if any(d in msg.lower() for d in DEGRADED) and msg not in self.degraded:
            self.degraded.append(msg)
        self._see(msg)

    def error(self, msg):
        # (in verbose mode yt-dlp appends the traceback: its source text is no evidence of anything)
        self.errors.append(str(msg).split("\n")[0])
        self._show(str(msg))


def base_params(opts: Options, log: Log) -> dict:
    p = {
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        # debug messages reach the logger only in verbose mode; ffmpeg stays quiet ("quiet" wins there)
        "verbose": True,
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
        "cachedir": str(cache_root() / "yt-dlp"),
        # a SOCKS proxy only works with yt-dlp's own downloaders (ffmpeg ignores it)
        "hls_prefer_native": is_socks(opts.proxy),
        "proxy": opts.proxy if opts.proxy is not None else "",
    }
    deno = deno_path()
    if deno:  # without the wheel yt-dlp looks for a runtime itself (deno/node on PATH)
        p["js_runtimes"] = {"deno": {"path": deno}}
    if opts.extractor_args:
        p["extractor_args"] = parse_extractor_args(opts.extractor_args)
    p.update(parse_ytdlp_opts(opts.ytdlp_opts))
    return p


def _use_our_ffmpeg() -> None:
    """Point yt-dlp's own ffmpeg checks at imageio-ffmpeg's binary.

    ``ffmpeg_location`` alone is not enough: yt-dlp decides whether ffmpeg can cut sections with a
    check that reads a context variable (set by its command line, per thread) instead of the
    option, and otherwise looks for ``ffmpeg`` on PATH.
    """
    from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor

    FFmpegPostProcessor._ffmpeg_location.set(ffmpeg_exe())


def fmt_provenance(fmt: dict) -> tuple[str, str]:
    """YouTube's ``lmt`` (last-modified, µs) and ``clen`` (bytes) of a format, from its URL."""
    q = parse_qs(urlparse(fmt.get("url") or "").query)
    lmt = (q.get("lmt") or [""])[0]
    clen = (q.get("clen") or [""])[0] or str(fmt.get("filesize") or "")
    return lmt, clen


def _done(stage: Path, name: str) -> list[Path]:
    return [p for p in stage.glob(name + ".*") if not p.name.endswith((".part", ".ytdl")) and ".part" not in p.suffixes
            and ".temp" not in p.suffixes]


class Session:
    """One worker's ``YoutubeDL``: probe a URL, then download the chosen format's sections."""

    def __init__(self, opts: Options, cookiefile: str | None = None, prefix: str = ""):
        import yt_dlp

        self.opts = opts
        self.log = Log(opts.verbose, prefix)
        self.chosen: str | None = None
        params = {**base_params(opts, self.log), "format": self._select, "outtmpl": {"default": "%(id)s.%(ext)s"}}
        if cookiefile:
            params["cookiefile"] = cookiefile
        _use_our_ffmpeg()
        self.ydl = yt_dlp.YoutubeDL(params)
        for ie in EXTRACTORS:
            self.ydl.add_info_extractor(ie())

    def _select(self, ctx):
        formats = ctx.get("formats") or []
        if self.chosen is None:  # the probe: any format, nothing is downloaded
            yield from formats[-1:]
            return
        yield from (f for f in formats if f.get("format_id") == self.chosen)

    def probe(self, url: str) -> dict:
        self.chosen = None
        _use_our_ffmpeg()
        ie_key = next((ie.ie_key() for ie in EXTRACTORS if ie.suitable(url)), None)
        info = self.ydl.extract_info(url, download=False, ie_key=ie_key)
        return self.ydl.sanitize_info(info)

    def download(self, info: dict, fmt: dict, span: tuple[float, float] | None, stage: Path, name: str) -> Path:
        """One section (or the whole video when ``span`` is None) into ``stage``; returns the file."""
        from vhq.errors import MediaError

        p = self.ydl.params
        self.chosen = fmt["format_id"]
        p["paths"] = {"home": str(stage.resolve()), "temp": str(stage.resolve())}  # yt-dlp joins relative paths twice
        p["outtmpl"]["default"] = name + ".%(ext)s"
        info = copy.deepcopy(info)
        if span is None:
            p.pop("download_ranges", None)
            p["force_keyframes_at_cuts"] = False
            p.pop("external_downloader_args", None)
        else:
            from yt_dlp.utils import download_range_func

            p["download_ranges"] = download_range_func(None, [span])
            p["force_keyframes_at_cuts"] = True
            quality = ["-qp", "0"] if self.opts.crf == 0 else ["-crf", str(self.opts.crf)]
            p["external_downloader_args"] = {"ffmpeg_o": ["-an", "-c:v", "libx264", *quality, "-preset", "veryfast", "-pix_fmt", "yuv420p"]}
            # yt-dlp's ffmpeg downloader picks the container from the format's ext (``-f webm`` for a
            # VP9 stream), which cannot hold the H.264 the section is re-encoded to.
            for f in info.get("formats") or []:
                if f.get("format_id") == self.chosen:
                    f["ext"] = "mp4"
                    f.pop("container", None)
        _use_our_ffmpeg()
        self.ydl.process_ie_result(info, download=True)
        out = _done(stage, name)
        if not out:
            raise MediaError(f"{stage}/{name}: yt-dlp finished without writing the file")
        return out[0]

    def close(self) -> None:
        self.ydl.close()


class CookieCopies:
    """A private copy of ``cookies.txt`` per worker (yt-dlp saves the jar on close; several writers would clash)."""

    def __init__(self, source: str | None):
        import tempfile

        self.source = source
        self.folder = Path(tempfile.mkdtemp(prefix="vhq-cookies-")) if source else None
        self._n = 0

    def new(self) -> str | None:
        if not self.source:
            return None
        self._n += 1
        dest = self.folder / f"worker{self._n}.txt"
        shutil.copyfile(self.source, dest)
        dest.chmod(0o600)
        return str(dest)

    def cleanup(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
