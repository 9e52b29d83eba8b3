"""Synthetic talking-head videos for tests and the offline demo.

A real face photo that ships in a wheel (scikit-image's ``astronaut``) is cut out around the head
and moved over a plain background with head-like motion (sway, nod, roll, small zoom). The frame
index is written into the background colour with a Gray-code walk through a 16×16×16 colour cube:
consecutive frames differ by one step in one channel (so scene-cut detectors see a steady, small
change), and any crop that keeps some background still tells which source frame it came from
(``decode_frame_index``). The ground-truth face box of every frame is known (``face_box``), and so
is the tube box a FOMM-style manifest row would carry (``tube_box``).
"""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from vhq.errors import MediaError
from vhq.io import files, video

LEVELS = 16
STEP = 256 // LEVELS
CODE_PERIOD = LEVELS**3  # frame indices are unique modulo this

# The astronaut's face in the 512×512 photo (MTCNN box, rounded) and the head cut-out around it.
ASTRONAUT_FACE = (181.0, 62.0, 268.0, 172.0)
HEAD_CUTOUT = (140, 20, 310, 210)  # x0, y0, x1, y1 in the photo


@lru_cache(maxsize=1)
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo, 512×512 RGB uint8 (ships in the wheel; no download)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@lru_cache(maxsize=1)
def _gray_walk() -> tuple[np.ndarray, dict[tuple[int, int, int], int]]:
    """A Hamiltonian path through the 16³ level cube where neighbours differ in one channel."""
    codes = []
    for r in range(LEVELS):
        gs = range(LEVELS) if r % 2 == 0 else range(LEVELS - 1, -1, -1)
        for gi, g in enumerate(gs):
            forward = (r * LEVELS + gi) % 2 == 0
            bs = range(LEVELS) if forward else range(LEVELS - 1, -1, -1)
            codes += [(r, g, b) for b in bs]
    arr = np.array(codes, dtype=np.int64)
    return arr, {tuple(c): i for i, c in enumerate(codes)}


def code_color(index: int) -> np.ndarray:
    """The background colour (uint8 RGB) that encodes frame ``index``."""
    arr, _ = _gray_walk()
    return (arr[index % CODE_PERIOD] * STEP + STEP // 2).astype(np.uint8)


def decode_color(rgb) -> int:
    levels = np.clip(np.asarray(rgb, dtype=np.float64) // STEP, 0, LEVELS - 1).astype(int)
    return _gray_walk()[1][tuple(int(v) for v in levels)]


def decode_frame_index(frame, ring: float = 0.04) -> int:
    """The source frame index of a frame (or a crop of one) from its border's median colour."""
    img = np.asarray(frame)
    h, w = img.shape[:2]
    k = max(1, int(round(min(h, w) * ring)))
    border = np.concatenate([img[:k].reshape(-1, 3), img[-k:].reshape(-1, 3), img[:, :k].reshape(-1, 3), img[:, -k:].reshape(-1, 3)])
    return decode_color(np.median(border, axis=0))


@dataclass(frozen=True)
class SyntheticVideo:
    """Parameters of one synthetic clip. ``face_scale`` is the head cut-out height / frame height."""

    width: int = 640
    height: int = 360
    frames: int = 50
    fps: float = 25.0
    face_scale: float = 0.55
    seed: int = 0
    face: bool = True
    cut_at: int | None = None  # frames from here on show another scene (a scene cut)
    first_index: int = 0  # frame code of frame 0 (for clips cut out of a longer "video")

    def _pose(self, t: int) -> tuple[float, float, float, float]:
        """Centre (x, y), rotation (degrees) and scale of the head at frame ``t``."""
        rng = np.random.default_rng(self.seed)
        ph = rng.uniform(0, 2 * math.pi, 4)
        s = t / self.fps
        cx = self.width * (0.5 + 0.06 * math.sin(2 * math.pi * s / 3.1 + ph[0]))
        cy = self.height * (0.5 + 0.04 * math.sin(2 * math.pi * s / 2.3 + ph[1]))
        rot = 8.0 * math.sin(2 * math.pi * s / 4.0 + ph[2])
        scale = self.height * self.face_scale / (HEAD_CUTOUT[3] - HEAD_CUTOUT[1]) * (1 + 0.05 * math.sin(2 * math.pi * s / 5.0 + ph[3]))
        return cx, cy, rot, scale

    def _matrix(self, t: int) -> np.ndarray:
        import cv2

        cx, cy, rot, scale = self._pose(t)
        hx = (HEAD_CUTOUT[0] + HEAD_CUTOUT[2]) / 2
        hy = (HEAD_CUTOUT[1] + HEAD_CUTOUT[3]) / 2
        m = cv2.getRotationMatrix2D((hx, hy), rot, scale)
        m[:, 2] += (cx - hx, cy - hy)
        return m

    def face_box(self, t: int) -> tuple[float, float, float, float]:
        """The face's bounding box (x0, y0, x1, y1) in frame ``t``'s pixels."""
        x0, y0, x1, y1 = ASTRONAUT_FACE
        pts = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]]) @ self._matrix(t).T
        return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))

    def frame(self, t: int) -> np.ndarray:
        import cv2

        img = np.empty((self.height, self.width, 3), np.uint8)
        img[:] = code_color(self.first_index + t)
        cut = self.cut_at is not None and t >= self.cut_at
        if self.face or cut:
            sprite, alpha = _head_sprite(cut)
            m = self._matrix(t)
            if cut:  # another "shot": the head elsewhere, larger, in negative
                m = m.copy()
                m[:, :2] *= 1.3
                m[:, 2] = (self.width * 0.3, self.height * 0.1)
            size = (self.width, self.height)
            warped = cv2.warpAffine(sprite, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            a = cv2.warpAffine(alpha, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[..., None]
            img = (warped.astype(np.float32) * a + img.astype(np.float32) * (1 - a) + 0.5).astype(np.uint8)
        return img

    def iter_batches(self, batch: int = 16) -> Iterator[np.ndarray]:
        for s in range(0, self.frames, batch):
            yield np.stack([self.frame(t) for t in range(s, min(s + batch, self.frames))])

    def with_(self, **kw) -> "SyntheticVideo":
        return replace(self, **kw)


def tube_box(spec: SyntheticVideo, a: int, b: int, margin: float = 0.1, ref: tuple[int, int] | None = None,
             inside: bool = False) -> tuple[int, int, int, int]:
    """A FOMM-style tube box: the union of the face over source frames [a, b) (the file's first frame
    is ``spec.first_index``), enlarged by ``margin`` of its size on each side, in the pixels of a
    ``ref`` (width, height) frame (default: the video's own); ``inside`` clips it to that frame."""
    boxes = [spec.face_box(t - spec.first_index) for t in range(a, b)]
    x0, y0 = min(bx[0] for bx in boxes), min(bx[1] for bx in boxes)
    x1, y1 = max(bx[2] for bx in boxes), max(bx[3] for bx in boxes)
    dx, dy = margin * (x1 - x0), margin * (y1 - y0)
    w, h = ref or (spec.width, spec.height)
    sx, sy = w / spec.width, h / spec.height
    box = (round((x0 - dx) * sx), round((y0 - dy) * sy), round((x1 + dx) * sx), round((y1 + dy) * sy))
    if inside:
        box = (max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3]))
    return box


@lru_cache(maxsize=2)
def _head_sprite(negative: bool) -> tuple[np.ndarray, np.ndarray]:
    """The photo with an elliptical soft alpha around the head (alpha is 0 outside the cut-out)."""
    img = astronaut()
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    x0, y0, x1, y1 = HEAD_CUTOUT
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    d = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    alpha = np.clip((1.0 - d) / 0.08, 0.0, 1.0).astype(np.float32)
    sprite = 255 - img if negative else img
    return np.ascontiguousarray(sprite), alpha


def write_synthetic(path: str | Path, spec: SyntheticVideo = SyntheticVideo(), crf: int = 18, preset: str = "veryfast", gop: int | None = None) -> Path:
    """Render ``spec`` to an H.264 mp4 (atomically)."""
    from vhq.io.video import write_video

    return write_video(path, spec.iter_batches(), spec.fps, crf=crf, preset=preset, gop=gop)


def concat_copy(parts: list[Path], dest: str | Path) -> Path:
    """Join mp4 files of identical encoding by stream copy (no re-encode; fast for long videos)."""
    from vhq.io.video import ffmpeg_exe

    dest = Path(dest)
    with files.atomic_path(dest) as tmp:
        listing = tmp.with_suffix(".txt")
        listing.write_text("".join(f"file '{Path(p).resolve()}'\n" for p in parts))
        try:
            r = subprocess.run(
                [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(tmp)],
                capture_output=True,
                text=True,
            )
        finally:
            listing.unlink(missing_ok=True)
        if r.returncode != 0:
            raise MediaError(f"{dest}: concatenation failed: {r.stderr.strip()[-300:]}")
    return dest


def write_hls_ladder(out_dir: str | Path, spec: SyntheticVideo, heights: tuple[int, ...] = (1080, 720), segment_s: float = 2.0) -> Path:
    """Render ``spec`` at each height (16:9) as an HLS rendition plus a ``master.m3u8``.

    This is how a YouTube-like server advertises several resolutions, so format selection by
    height (``bv*[height>=1080]``) can be tested offline. Returns the master playlist path.
    """
    from vhq.io.video import ffmpeg_exe

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3"]
    for h in sorted(heights, reverse=True):
        w = int(round(h * spec.width / spec.height / 2)) * 2
        src = out / f"src_{h}.mp4"
        write_synthetic(src, spec.with_(width=w, height=h), preset="ultrafast", gop=int(spec.fps))
        r = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-c", "copy", "-f", "hls",
             "-hls_time", str(segment_s), "-hls_playlist_type", "vod", "-hls_segment_filename", str(out / f"{h}p_%03d.ts"), str(out / f"{h}p.m3u8")],
            capture_output=True,
            text=True,
        )
        src.unlink()
        if r.returncode != 0:
            raise MediaError(f"{out}: HLS segmenting failed: {r.stderr.strip()[-300:]}")
        bw = int(w * h * spec.fps * 0.1)
        lines += [f'#EXT-X-STREAM-INF:BANDWIDTH={bw},RESOLUTION={w}x{h},FRAME-RATE={spec.fps:.3f},CODECS="avc1.640028"', f"{h}p.m3u8"]
    master = out / "master.m3u8"
    files.write_text(master, "\n".join(lines) + "\n")
    return master


def face_frames(n: int, size: int = 96, seed: int = 0, face_scale: float = 0.7) -> np.ndarray:
    """``n`` frames ``[n, size, size, 3]`` of a synthetic talking head."""
    spec = SyntheticVideo(width=size, height=size, frames=n, fps=25.0, face_scale=face_scale, seed=seed)
    return np.stack([spec.frame(t) for t in range(n)])


def write_clips(folder: Path, count: int = 2, frames: int = 10, side: int = 160, fmt: str = "mp4") -> list[Path]:
    """``count`` short synthetic talking-head clips (``side``² px) as mp4 files or PNG folders."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        spec = SyntheticVideo(width=side, height=side, frames=frames, fps=25.0, face_scale=0.7, seed=i)
        if fmt == "mp4":
            out.append(write_synthetic(folder / f"clip{i:02d}.mp4", spec, gop=5))
        else:
            out.append(video.write_frames(folder / f"clip{i:02d}", torch.from_numpy(next(spec.iter_batches(frames)))))
    return out
