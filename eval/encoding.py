"""How a scored video was stored: container, codec, pixel format, frame rate, and whether it is lossless.

The reference scripts score lossless PNG frames; a lossy prediction changes L1 and LPIPS by tens
of percent (H.264 CRF 18 yuv420p: +27 % L1 on the same frames), so every run records both
sides' encodings and warns when a prediction is lossy. Lossless here means the decoded RGB frames
are the ones the model wrote: PNG frame folders, lossless video codecs (``png``, ``ffv1``, …), and
H.264 in RGB (``libx264rgb``, pixel format ``gbrp``) whose x264 settings say ``qp=0`` (CRF 0).
H.264 CRF 0 in YUV is lossless in YUV only: the RGB → YUV conversion is lossy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from vhq.io import video

LOSSLESS_CODECS = {"png", "apng", "ffv1", "rawvideo", "huffyuv", "ffvhuff", "utvideo", "qtrle", "zlib", "magicyuv"}
RGB_PIX_FMTS = {"gbrp", "rgb24", "bgr24", "bgr0", "rgb0", "rgba", "bgra", "gbrap", "gbrp10le", "gbrp16le", "rgb48le"}
GRAY_PIX_FMTS = {"gray", "gray10le", "gray12le", "gray16le", "gray16be", "ya8", "monob", "monow"}
X264_OPTIONS = re.compile(rb"x264 - core \d+.*?options: ([^\x00]*)", re.DOTALL)


@dataclass(frozen=True)
class Encoding:
    container: str  # "png frames", "jpg frames", "mp4", "mkv", …
    codec: str
    pix_fmt: str
    rate_control: str = ""  # x264: "qp=0", "crf=18.0"; "" when unknown

    @property
    def lossless(self) -> bool:
        if self.container == "png frames":
            return True
        if self.codec in LOSSLESS_CODECS:
            return True
        return self.codec == "h264" and self.pix_fmt in RGB_PIX_FMTS and self.rate_control == "qp=0"

    @property
    def grayscale(self) -> bool:
        return self.pix_fmt in GRAY_PIX_FMTS

    def label(self) -> str:
        bits = [self.container, self.codec if self.codec != self.container.split()[0] else "", self.pix_fmt, self.rate_control]
        return " ".join(b for b in bits if b)


def _x264_rate_control(first_packet: bytes) -> str:
    m = X264_OPTIONS.search(first_packet)
    if not m:
        return ""
    opts = dict(o.split("=", 1) for o in m.group(1).decode("ascii", "replace").split() if "=" in o)
    if opts.get("rc") == "cqp":
        return f"qp={opts.get('qp', '')}"
    if "crf" in opts:
        return f"crf={opts['crf']}"
    return f"rc={opts.get('rc', '')}"


def _image_pix_fmt(path: Path) -> str:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        return ""
    channels = 1 if img.ndim == 2 else img.shape[2]
    deep = img.dtype.itemsize > 1
    return {1: "gray16" if deep else "gray", 2: "ya8", 3: "rgb48" if deep else "rgb24", 4: "rgba64" if deep else "rgba"}.get(channels, "")


def describe(info: video.VideoInfo) -> Encoding:
    """The encoding of a probed video or frame folder (reads one image or the first packet)."""
    if info.kind == "frames":
        first = video.frame_files(info.path)[0]
        return Encoding(f"{info.codec} frames", info.codec, _image_pix_fmt(first))
    import av

    with av.open(str(info.path)) as c:
        s = c.streams.video[0]
        codec, pix_fmt = s.codec_context.name, s.codec_context.pix_fmt or ""
        rc = ""
        if codec == "h264":
            for pkt in c.demux(s):
                if pkt.size:
                    rc = _x264_rate_control(bytes(pkt))
                    break
    return Encoding(info.path.suffix.lstrip(".").lower(), codec, pix_fmt, rc)
