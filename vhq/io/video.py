"""Video I/O used by every stage: probe, stream in bounded batches, write atomically.

An mp4 file and a folder of PNG/JPEG frames are interchangeable inputs. Decoding uses PyAV (it
bundles its own FFmpeg libraries); encoding uses the ffmpeg binary shipped in the imageio-ffmpeg
wheel, so no system ffmpeg is needed. Frames are ``uint8`` tensors shaped ``[T, H, W, 3]`` (RGB).
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from vhq.errors import BadInput, MediaError, OutputError
from vhq.io import files

FRAME_EXTS = (".png", ".jpg", ".jpeg")
VIDEO_EXTS = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".ts")
DEFAULT_FOLDER_FPS = 25.0


def ffmpeg_exe() -> str:
    """The ffmpeg binary from imageio-ffmpeg (``IMAGEIO_FFMPEG_EXE`` overrides it)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    kind: str  # "video" or "frames"
    width: int
    height: int
    frames: int
    fps: float
    codec: str

    @property
    def duration(self) -> float:
        return self.frames / self.fps if self.fps else 0.0


def is_frame_folder(path: Path) -> bool:
    return path.is_dir()


def frame_files(folder: Path) -> list[Path]:
    """Image files of a frame folder, in name order (zero-padded names sort as numbers)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_EXTS and not p.name.startswith("."))


def _read_image(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise MediaError(f"{path}: not a readable image (corrupt or not PNG/JPEG)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_image(path: str | os.PathLike) -> torch.Tensor:
    """One image file as a ``[H, W, 3]`` uint8 tensor."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{p}: no such image file")
    return torch.from_numpy(_read_image(p))


def _open(path: Path):
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise MediaError(f"{path}: cannot open as a video ({e.__class__.__name__}: {e})") from None
    if not container.streams.video:
        container.close()
        raise MediaError(f"{path}: has no video stream")
    return container


def probe(path: str | os.PathLike) -> VideoInfo:
    """Size, frame count, fps and codec of an mp4 (or other video) or a frame folder."""
    p = Path(path)
    if not p.exists():
        raise BadInput(f"{p}: no such file or folder")
    if is_frame_folder(p):
        names = frame_files(p)
        if not names:
            raise MediaError(f"{p}: frame folder has no PNG/JPEG files")
        h, w = _read_image(names[0]).shape[:2]
        return VideoInfo(p, "frames", w, h, len(names), DEFAULT_FOLDER_FPS, names[0].suffix.lstrip(".").lower())
    with _open(p) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        n = stream.frames
        if not n:
            try:
                n = sum(1 for pkt in container.demux(stream) if pkt.size)
            except Exception as e:  # noqa: BLE001 - PyAV raises several error types
                raise MediaError(f"{p}: corrupt video stream ({e})") from None
        w, h = stream.codec_context.width, stream.codec_context.height
        if not w or not h:
            raise MediaError(f"{p}: video stream has no frame size (corrupt header)")
        return VideoInfo(p, "video", w, h, int(n), fps, stream.codec_context.name)


def measure(path: Path) -> tuple[float, float, int, int, float]:
    """(time of the first frame, duration, width, height, fps) of a video file, decoding one frame.

    Unlike ``probe`` this finds where the first frame really starts (a cut section's first frame
    need not be at time 0).
    """
    import av

    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            first = None
            for frame in c.decode(s):
                first = frame.time
                break
            if first is None:
                raise MediaError(f"{path}: no decodable video frame")
            fps = float(s.average_rate or s.guessed_rate or 0)
            duration = (float(s.duration * s.time_base) if s.duration else (c.duration or 0) / 1e6)
            return float(first or 0.0), duration, s.codec_context.width, s.codec_context.height, fps
    except (av.error.FFmpegError, IndexError) as e:
        raise MediaError(f"{path}: not a readable video ({e})") from None


def _stack(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames))


def iter_frames(
    path: str | os.PathLike,
    batch_size: int = 16,
    start: int = 0,
    count: int | None = None,
) -> Iterator[torch.Tensor]:
    """Frames ``start … start+count-1`` as ``[B, H, W, 3]`` uint8 batches (the last may be short).

    Memory holds one batch whatever the video's length. Video files seek to the keyframe before
    ``start``. A file that decodes to fewer frames than its header promises is reported as
    truncated, naming the file.
    """
    p = Path(path)
    if batch_size < 1:
        raise BadInput(f"batch size must be >= 1, got {batch_size}")
    if not p.exists():
        raise BadInput(f"{p}: no such file or folder")
    if is_frame_folder(p):
        yield from _iter_folder(p, batch_size, start, count)
    else:
        yield from _iter_video(p, batch_size, start, count)


def _iter_folder(p: Path, batch_size: int, start: int, count: int | None) -> Iterator[torch.Tensor]:
    names = frame_files(p)
    if not names:
        raise MediaError(f"{p}: frame folder has no PNG/JPEG files")
    names = names[start : None if count is None else start + count]
    shape = None
    batch: list[np.ndarray] = []
    for name in names:
        img = _read_image(name)
        if shape is None:
            shape = img.shape
        elif img.shape != shape:
            raise MediaError(f"{name}: frame size {img.shape[1]}x{img.shape[0]} differs from the folder's first frame {shape[1]}x{shape[0]}")
        batch.append(img)
        if len(batch) == batch_size:
            yield _stack(batch)
            batch = []
    if batch:
        yield _stack(batch)


def _iter_video(p: Path, batch_size: int, start: int, count: int | None) -> Iterator[torch.Tensor]:
    import av

    container = _open(p)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        expected = stream.frames or None
        rate = stream.average_rate or stream.guessed_rate
        tb = stream.time_base
        t0 = stream.start_time or 0
        end = None if count is None else start + count
        seeked = False
        if start > 0 and rate and tb:
            target_pts = t0 + int(Fraction(start) / Fraction(rate) / tb)
            container.seek(target_pts, stream=stream, backward=True, any_frame=False)
            seeked = True
        index = -1
        batch: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                if seeked and frame.pts is not None:
                    index = int(round(float((frame.pts - t0) * tb * rate)))
                else:
                    index += 1
                if index < start:
                    continue
                if end is not None and index >= end:
                    break
                batch.append(frame.to_ndarray(format="rgb24"))
                if len(batch) == batch_size:
                    yield _stack(batch)
                    batch = []
        except av.error.FFmpegError as e:
            raise MediaError(f"{p}: decoding failed after frame {index} ({e})") from None
        if batch:
            yield _stack(batch)
        wanted = expected if end is None else (min(end, expected) if expected else end)
        if wanted is not None and index + 1 < wanted:
            raise MediaError(f"{p}: truncated or corrupt: decoded {index + 1} frames, the header says {wanted}")
    finally:
        container.close()


def read_frames(path: str | os.PathLike, start: int = 0, count: int | None = None) -> torch.Tensor:
    """All requested frames at once (short clips only; use ``iter_frames`` for long videos)."""
    batches = list(iter_frames(path, batch_size=64, start=start, count=count))
    if not batches:
        raise MediaError(f"{path}: no frames in range start={start} count={count}")
    return torch.cat(batches)


def _as_numpy_batch(frames) -> np.ndarray:
    arr = frames.cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise BadInput(f"frames must be [T,H,W,3] or [H,W,3], got shape {tuple(arr.shape)}")
    if arr.dtype != np.uint8:
        raise BadInput(f"frames must be uint8, got {arr.dtype}")
    return np.ascontiguousarray(arr)


class VideoWriter:
    """Encode frames to H.264 mp4 through the imageio-ffmpeg binary, atomically.

    Frames are piped raw; the output appears under its final name only after ffmpeg succeeded.
    ``gop`` sets the keyframe interval (short GOPs make random access cheap for training);
    ``crf=0`` with ``pix_fmt="yuv444p"`` is lossless in YUV.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        crf: int = 18,
        preset: str = "medium",
        gop: int | None = None,
        pix_fmt: str = "yuv420p",
        codec: str = "libx264",
    ):
        self.path = Path(path)
        self.fps = fps
        self.options = dict(crf=crf, preset=preset, gop=gop, pix_fmt=pix_fmt, codec=codec)
        self._proc: subprocess.Popen | None = None
        self._tmp: Path | None = None
        self._log: Path | None = None
        self._size: tuple[int, int] | None = None
        self.frames_written = 0

    def _start(self, w: int, h: int) -> None:
        import ffmpeg

        o = self.options
        if o["pix_fmt"] == "yuv420p" and (w % 2 or h % 2):
            raise BadInput(f"{self.path}: H.264 yuv420p needs an even frame size, got {w}x{h}")
        self._tmp = files.temp_path_for(self.path, self.path.suffix or ".mp4")
        self._log = self._tmp.with_suffix(".log")
        rate = Fraction(self.fps).limit_denominator(1001)
        out_kw = dict(vcodec=o["codec"], crf=o["crf"], preset=o["preset"], pix_fmt=o["pix_fmt"], movflags="+faststart")
        if o["gop"]:
            out_kw["g"] = o["gop"]
        args = (
            ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{w}x{h}", r=str(rate))
            .output(str(self._tmp), **out_kw)
            .global_args("-hide_banner", "-loglevel", "error")
            .overwrite_output()
            .compile(cmd=ffmpeg_exe())
        )
        self._log_fh = open(self._log, "wb")
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log_fh)
        self._size = (w, h)

    def write(self, frames) -> None:
        arr = _as_numpy_batch(frames)
        h, w = arr.shape[1:3]
        if self._proc is None:
            self._start(w, h)
        elif (w, h) != self._size:
            raise BadInput(f"{self.path}: frame size {w}x{h} differs from the first frame {self._size[0]}x{self._size[1]}")
        try:
            self._proc.stdin.write(arr.tobytes())
        except BrokenPipeError:
            self._fail("ffmpeg stopped reading frames")
        self.frames_written += arr.shape[0]

    def _fail(self, what: str):
        lines: list[str] = []
        rc = None
        if self._proc is not None:
            self._proc.kill()
            rc = self._proc.wait()
        if self._log is not None and self._log.exists():
            self._log_fh.close()
            lines = self._log.read_text(errors="replace").strip().splitlines()[-3:]
        self._cleanup()
        msg = ": " + " | ".join(lines) if lines else ""
        if rc == -signal.SIGXFSZ or any("File too large" in ln for ln in lines):
            raise OutputError(f"{self.path}: the file-size limit was reached while encoding", "raise the limit (ulimit -f) and re-run")
        if any("No space left" in ln for ln in lines):
            raise OutputError(f"{self.path}: no space left on the device while encoding", "free some space and re-run")
        raise MediaError(f"{self.path}: {what}{msg}", "the ffmpeg message says why; the output was not written")

    def _cleanup(self) -> None:
        for p in (self._tmp, self._log):
            if p is not None:
                files.remove(p)

    def close(self) -> Path:
        if self._proc is None:
            raise BadInput(f"{self.path}: no frames were written")
        self._proc.stdin.close()
        rc = self._proc.wait()
        if rc != 0:
            self._fail(f"ffmpeg exited with code {rc}")
        self._log_fh.close()
        os.replace(self._tmp, self.path)
        files.remove(self._log)
        self._proc = None
        return self.path

    def abort(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._log_fh.close()
            self._proc = None
        self._cleanup()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(path: str | os.PathLike, frames: Iterable | torch.Tensor, fps: float, **options) -> Path:
    """Write frames (a tensor or an iterable of batches) as an mp4, atomically."""
    if isinstance(frames, (torch.Tensor, np.ndarray)):
        frames = [frames]
    with VideoWriter(path, fps, **options) as w:
        for batch in frames:
            w.write(batch)
    return Path(path)


# Predictions and generated videos: H.264 in RGB at CRF 0 is lossless (no YUV conversion, no quantiser).
LOSSLESS_MP4 = {"crf": 0, "pix_fmt": "rgb24", "codec": "libx264rgb", "preset": "veryfast"}


def write_lossless(dest: str | os.PathLike, batches: Iterable, fps: float, fmt: str) -> Path:
    """Frames as a lossless mp4 (``fmt="mp4"``) or a folder of PNG frames (``"png"``), atomically."""
    if fmt == "png":
        return write_frames(dest, batches)
    with VideoWriter(dest, fps, **LOSSLESS_MP4) as w:
        for b in batches:
            w.write(b)
    return Path(dest)


def write_frames(folder: str | os.PathLike, frames: Iterable | torch.Tensor, ext: str = ".png") -> Path:
    """Write frames as ``000000.png, 000001.png, …`` into ``folder``, atomically as a whole."""
    import cv2

    if isinstance(frames, (torch.Tensor, np.ndarray)):
        frames = [frames]
    dest = Path(folder)
    with files.atomic_path(dest, suffix="") as tmp:
        tmp.mkdir()
        i = 0
        for batch in frames:
            for img in _as_numpy_batch(batch):
                if not cv2.imwrite(str(tmp / f"{i:06d}{ext}"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
                    raise OutputError(f"{dest}: could not write frame {i}", "check free space and the folder's permissions")
                i += 1
        if i == 0:
            raise BadInput(f"{dest}: no frames to write")
    return dest


def write_image(path: str | os.PathLike, image) -> Path:
    import cv2

    arr = _as_numpy_batch(image)[0]
    with files.atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)):
            raise OutputError(f"{path}: could not write image", "check free space and the folder's permissions")
    return Path(path)


def list_videos(root: str | os.PathLike) -> dict[str, Path]:
    """Videos and frame folders under ``root``, keyed by relative path without extension.

    A folder counts as a frame folder when it directly holds image files; otherwise it is
    searched for videos and frame folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise BadInput(f"{root}: not a folder")
    out: dict[str, Path] = {}

    def visit(d: Path) -> None:
        for p in sorted(d.iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_dir():
                if frame_files(p):
                    out[p.relative_to(root).as_posix()] = p
                else:
                    visit(p)
            elif p.suffix.lower() in VIDEO_EXTS:
                out[p.relative_to(root).with_suffix("").as_posix()] = p

    visit(root)
    return out
