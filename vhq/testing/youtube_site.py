"""A YouTube stand-in for download tests: synthetic videos behind a local server.

``/watch/<video_id>`` answers what yt-dlp's generic extractor needs to see formats with heights:
an HLS master playlist (several renditions) or a DASH manifest whose representations are plain
mp4 files served with HTTP Range (like YouTube's own DASH formats). A video without files answers
404, like a removed one.
"""

from __future__ import annotations

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
