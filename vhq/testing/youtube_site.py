"""A YouTube stand-in for download tests: synthetic videos behind a local server.

``/watch/<video_id>`` answers what yt-dlp's generic extractor needs to see formats with heights:
an HLS master playlist (several renditions) or a DASH manifest whose representations are plain
mp4 files served with HTTP Range (like YouTube's own DASH formats). A video without files answers
404, like a removed one.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

from vhq.io import files
from vhq.testing import synthetic

FPS = 25.0


def spec(frames: int, seed: int = 0) -> synthetic.SyntheticVideo:
    # Background only: the frame index is in the background colour and plain frames render and
    # encode fast even at 1080p.
    return synthetic.SyntheticVideo(width=320, height=180, frames=frames, fps=FPS, seed=seed, face=False)


def add_hls(root: Path, video_id: str, heights=(1080, 720), frames: int = 125) -> None:
    synthetic.write_hls_ladder(root / "v" / video_id, spec(frames), heights=heights, segment_s=1.0)
    master = (root / "v" / video_id / "master.m3u8").read_text()
    lines = [f"../v/{video_id}/{ln}" if ln and not ln.startswith("#") else ln for ln in master.splitlines()]
    files.write_text(root / "watch" / video_id, "\n".join(lines) + "\n")


def add_dash(root: Path, video_id: str, heights=(1080, 720), frames: int = 125, gop: int = 25) -> None:
    reps = []
    for h in heights:
        w = int(round(h * 16 / 9 / 2)) * 2
        name = f"{h}p.mp4"
        synthetic.write_synthetic(root / "v" / video_id / name, spec(frames).with_(width=w, height=h), preset="ultrafast", gop=gop)
        reps.append(f'      <Representation id="{h}p" bandwidth="{w * h * 2}" codecs="avc1.640028" width="{w}" height="{h}" frameRate="25">\n'
                    f"        <BaseURL>../v/{video_id}/{name}</BaseURL>\n      </Representation>")
    dur = frames / FPS
    mpd = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT{dur:.3f}S" '
        'minBufferTime="PT1.5S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">\n'
        '  <Period>\n    <AdaptationSet mimeType="video/mp4" contentType="video">\n'
        + "\n".join(reps)
        + "\n    </AdaptationSet>\n  </Period>\n</MPD>\n"
    )
    files.write_text(root / "watch" / video_id, mpd)


# ----------------------------------------------------------------------------------------------
# A YouTube watch page stand-in: ``/yt/<video_id>`` is a small JSON "player response" that
# ``standin_extractor()`` turns into what yt-dlp's YouTube extractor returns: itag format ids (an
# AI-upscaled one ends ``-sr``, note "AI-upscaled"), googlevideo-style ``lmt``/``clen`` in the URL,
# and YouTube's own messages for a refused playback or skipped formats (texts as yt-dlp prints them).

LOGIN_HINT = "Use --cookies-from-browser or --cookies for the authentication. See  https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp  for how to manually pass cookies. Also see  https://github.com/yt-dlp/yt-dlp/wiki/Extractors#exporting-youtube-cookies  for tips on effectively exporting YouTube cookies"
CAPTCHA = {"status": "ERROR", "reason": "Video unavailable", "captcha": True}
BOT_CHECK = {"status": "LOGIN_REQUIRED", "reason": "Sign in to confirm you’re not a bot"}
# What yt-dlp 2026.10 says when a session does not get every format.
SABR_SKIPPED = ("Some android_vr client https formats have been skipped as they are missing a URL. YouTube may have enabled the "
                "SABR-only streaming experiment for the current session. See  https://github.com/yt-dlp/yt-dlp/issues/12482  for more details")
POT_SKIPPED = ("{video_id}: mweb client https formats require a GVS PO Token which was not provided. They will be skipped as they may "
               "yield HTTP Error 403. You can manually pass a GVS PO Token for this client with --extractor-args "
               '"youtube:po_token=mweb.gvs+XXX". For more information, refer to  https://github.com/yt-dlp/yt-dlp/wiki/PO-Token-Guide')


def _render(root: Path, height: int, frames: int, codec: str, gop: int) -> Path:
    """One synthetic rendition per (height, frames, codec, gop), shared by every video of the site."""
    from vhq.io.video import ffmpeg_exe

    w = round(height * 16 / 9 / 2) * 2
    mp4 = root / "src" / f"{height}p-{frames}-g{gop}.mp4"
    if not mp4.exists():
        synthetic.write_synthetic(mp4, spec(frames).with_(width=w, height=height), preset="ultrafast", gop=gop)
    if codec == "h264":
        return mp4
    webm = mp4.with_suffix(".webm")
    if not webm.exists():
        with files.atomic_path(webm, suffix=".webm") as tmp:
            subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(mp4), "-c:v", "libvpx-vp9",
                            "-deadline", "realtime", "-cpu-used", "8", "-b:v", "0", "-crf", "45", "-g", str(gop), "-an", str(tmp)],
                           check=True, capture_output=True)
    return webm


# Logged at debug level by yt-dlp for its default web client: routine, not a sign of a degraded probe.
WEB_SABR_DEBUG = ("{video_id}: Some web client https formats have been skipped as they are missing a URL. YouTube is forcing SABR "
                  "streaming for this client. See  https://github.com/yt-dlp/yt-dlp/issues/12482  for more details")


def write_format(root: Path, video_id: str, itag: str, height: int, frames: int, codec: str = "h264", sr: bool = False,
                 gop: int = 25, label: str | None = None) -> dict:
    """One format file (H.264 mp4 or VP9 WebM, 16:9) of ``video_id`` and its player-response entry."""
    src = _render(root, height, frames, codec, gop)
    dest = root / "v" / video_id / f"{itag}{src.suffix}"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.link(src, dest)
    mime = 'video/webm; codecs="vp9"' if codec == "vp9" else 'video/mp4; codecs="avc1.640028"'
    return {"itag": itag, "path": f"../v/{video_id}/{dest.name}", "mime": mime, "width": round(height * 16 / 9 / 2) * 2,
            "height": height, "fps": FPS, "sr": sr, "label": label or f"{height}p", "lmt": "1700000000000000", "clen": dest.stat().st_size}


def add_youtube(root: Path, video_id: str, formats: list[dict] = (), frames: int = 100, playability: dict | None = None,
                warnings: list[str] = (), debug: list[str] = ()) -> Path:
    """``/yt/<video_id>``: the formats (from ``write_format``), or a refused playback, plus yt-dlp's messages."""
    data = {"id": video_id, "duration": frames / FPS, "formats": list(formats), "playability": playability,
            "warnings": [w.format(video_id=video_id) for w in warnings], "debug": [d.format(video_id=video_id) for d in debug]}
    return files.write_text(root / "yt" / video_id, json.dumps(data))


@functools.cache
def standin_extractor():
    """The yt-dlp extractor class for ``/yt/<video_id>`` on 127.0.0.1."""
    from urllib.parse import urljoin

    from yt_dlp.extractor.common import InfoExtractor
    from yt_dlp.utils import join_nonempty, mimetype2ext, parse_codecs

    class StandInYoutubeIE(InfoExtractor):
        IE_NAME = "youtube-standin"
        _VALID_URL = r"https?://127\.0\.0\.1:\d+/yt/(?P<id>[\w-]+)"

        def _real_extract(self, url):
            video_id = self._match_id(url)
            data = None
            for client in self._configuration_arg("player_client", ["web"], ie_key="youtube"):
                data = self._download_json(url, video_id, note=f"Downloading {client} player API JSON")
            for msg in data["debug"]:
                self.write_debug(msg)
            for msg in data["warnings"]:
                self.report_warning(msg, video_id)
            pl = data.get("playability")
            if pl:
                reason = pl["reason"]
                if "sign in" in reason.lower():
                    reason = f"{reason.strip().rstrip('.')}. {LOGIN_HINT}"
                elif pl.get("captcha"):
                    reason += ". YouTube is requiring a captcha challenge before playback"
                self.raise_no_formats(reason, expected=True)
            formats = []
            for f in data["formats"]:
                mime, _, codecs = f["mime"].partition("; codecs=")
                formats.append({
                    "format_id": join_nonempty(f["itag"], f["sr"] and "sr"),
                    "format_note": join_nonempty(f["label"], f["sr"] and "AI-upscaled", delim=", "),
                    "url": urljoin(url, f["path"]) + f"?itag={f['itag']}&lmt={f['lmt']}&clen={f['clen']}",
                    "width": f["width"], "height": f["height"], "fps": f["fps"], "filesize": f["clen"],
                    "ext": mimetype2ext(mime), "acodec": "none", **parse_codecs(codecs.strip('"')),
                })
            return {"id": video_id, "title": video_id, "duration": data["duration"], "formats": formats}

    return StandInYoutubeIE
