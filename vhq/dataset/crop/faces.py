"""Is the manifest's face still where the box says, in this download? (MTCNN, offline.)

A re-download can differ from the 2019 file the boxes were measured on (another aspect ratio,
letterboxing, a re-upload with a different cut), so the scaled box is checked against a face
detector on ``k`` frames spread over the kept segment. MTCNN comes from facenet-pytorch, whose
wheel ships the weights; it runs on the crop square only, downscaled to ``DETECT_SIZE`` pixels,
which is fast and still finds a face filling a good part of it.

The score of a frame is the IoU between the detected face (the detection that overlaps the box
most; 0 when there is none) and the scaled manifest box. FOMM's boxes are *tube* boxes, the union
of the face over the whole clip plus a margin, so a correct single-frame face has an IoU of only
0.2–0.6 with them (lower the more the head moves; 0.22–0.29 on the synthetic test clips), and a
wrong or missing face near 0; ``THRESHOLD`` sits between. The clip passes when the median over
the sampled frames reaches the threshold, so one blurred or profile frame does not drop it.

The scene-cut pass decodes every frame of the clip anyway, so the frames the check samples when no
cut trims the clip (most clips) are taken from that pass (``Prefetch``): the check then decodes
nothing. Only when a cut trims the clip are the moved samples decoded again (``grab``).

MTCNN scans an image pyramid for faces from ``MIN_FACE`` pixels up; most of its time goes to the
finest levels, which look for the smallest faces. A face can only reach the IoU threshold with the
box if its area is at least ``threshold`` × the box's (IoU ≤ smaller area / larger area), so levels
whose faces are well under that size (``SMALL_FACE_MARGIN``) are skipped (``min_face``). The levels
kept are exactly MTCNN's own (the pyramid starts ``j`` steps later), so faces found there are found
the same way: on the test clips every IoU is unchanged, and detection takes ~30 % less time.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vhq.dataset.crop.geometry import Region, Rejected, Timing, iou
from vhq.dataset.crop.scenes import Segment
from vhq.errors import MediaError

if TYPE_CHECKING:  # numpy, torch and cv2 load on first use: `vhq --help` reads this module's defaults
    import numpy as np

NO_FACE = "no-face"
THRESHOLD = 0.15
SAMPLES = 5
DETECT_SIZE = 256
MIN_PROB = 0.8
MIN_FACE = 20.0  # MTCNN's min_face_size default: the pyramid's finest level, in pixels
PYRAMID_STEP = 0.709  # MTCNN's factor default: each level is this much smaller than the last
SMALL_FACE_MARGIN = 0.5  # skip levels whose faces are under half the side of the smallest face that can pass


@dataclass(frozen=True)
class FaceScore:
    iou: float  # median over the sampled frames
    ious: tuple[float, ...]
    frames: tuple[int, ...]  # output frames sampled


class Detector:
    """MTCNN with its packaged weights, built on first use, shared by worker threads."""

    def __init__(self, device: str = "cpu"):
        self.device = device
        self._net = None
        self._lock = threading.Lock()

    def faces(self, image: np.ndarray, min_face: float = MIN_FACE) -> list[tuple[tuple[float, float, float, float], float]]:
        """(box, probability) of each face of at least ``min_face`` pixels (roughly: MTCNN's pyramid starts there)."""
        import numpy as np
        import torch

        with self._lock:
            if self._net is None:
                from facenet_pytorch import MTCNN

                self._net = MTCNN(keep_all=True, device=self.device, min_face_size=MIN_FACE, factor=PYRAMID_STEP)
            self._net.min_face_size = min_face
            with torch.inference_mode():
                boxes, probs = self._net.detect(image)
        if boxes is None:
            return []
        # facenet-pytorch returns dtype=object arrays
        boxes, probs = np.asarray(boxes).astype(float), np.asarray(probs).astype(float)
        return [(tuple(b), float(p)) for b, p in zip(boxes, probs) if p >= MIN_PROB]


def sample_frames(seg: Segment, k: int) -> tuple[int, ...]:
    """``k`` output frames spread evenly over the segment (centres of k equal parts)."""
    k = max(1, min(k, seg.frames))
    return tuple(sorted({seg.start + int((j + 0.5) * seg.frames / k) for j in range(k)}))


def grab(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    """Decode the file frames ``indices`` (RGB) with one seek; only those frames are converted."""
    import av

    want = sorted(set(indices))
    out: dict[int, np.ndarray] = {}
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            s.thread_type = "AUTO"
            rate, tb, t0 = s.average_rate or s.guessed_rate, s.time_base, s.start_time or 0
            if want[0] > 0:
                c.seek(t0 + int(want[0] / rate / tb), stream=s, backward=True, any_frame=False)
            for frame in c.decode(s):
                i = int(round(float((frame.pts - t0) * tb * rate)))
                if i in want:
                    out[i] = frame.to_ndarray(format="rgb24")
                if i >= want[-1]:
                    break
    except (av.error.FFmpegError, IndexError) as e:
        raise MediaError(f"{path}: decoding for the face check failed ({e})") from None
    missing = [i for i in want if i not in out]
    if missing:
        raise MediaError(f"{path}: frames {missing[:5]} could not be decoded for the face check")
    return out


def detect_input(frame: np.ndarray, sq: Region) -> np.ndarray:
    """The crop square of an RGB frame, downscaled to at most ``DETECT_SIZE`` pixels (a new array)."""
    import cv2
    import numpy as np

    region = frame[sq.y : sq.y + sq.height, sq.x : sq.x + sq.width]
    scale = detect_scale(sq)
    if scale < 1.0:
        return cv2.resize(np.ascontiguousarray(region), (round(sq.width * scale), round(sq.height * scale)), interpolation=cv2.INTER_AREA)
    return np.array(region)


def detect_scale(sq: Region) -> float:
    return min(1.0, DETECT_SIZE / max(sq.width, sq.height))


def min_face(sq: Region, threshold: float) -> float:
    """MTCNN's smallest face for ``sq``'s detector input: ``MIN_FACE`` moved up by whole pyramid
    steps while it stays under ``SMALL_FACE_MARGIN`` × the side of the smallest face that can reach
    ``threshold`` against the box."""
    scale = detect_scale(sq)
    box_area = max(0.0, sq.box[2] - sq.box[0]) * max(0.0, sq.box[3] - sq.box[1]) * scale * scale
    limit = SMALL_FACE_MARGIN * math.sqrt(threshold * box_area)
    size = MIN_FACE
    while size / PYRAMID_STEP <= limit:
        size /= PYRAMID_STEP
    return size


def square_iou(det: Detector, square: np.ndarray, sq: Region, threshold: float = 0.0) -> float:
    """IoU with the box of the face detected in ``detect_input``'s square that overlaps it most (0: none).
    Faces too small to reach ``threshold`` may be missed (scored 0): see ``min_face``."""
    scale = detect_scale(sq)
    best = 0.0
    for (x0, y0, x1, y1), _ in det.faces(square, min_face(sq, threshold)):
        face = (x0 / scale + sq.x, y0 / scale + sq.y, x1 / scale + sq.x, y1 / scale + sq.y)
        best = max(best, iou(face, sq.box))
    return best


class Prefetch:
    """Keeps the detector inputs of the frames ``check`` samples on the uncut clip, from the frames
    another pass decodes (``find_cuts(on_frame=...)``): called with each file frame index and its
    BGR image."""

    def __init__(self, t: Timing, sq: Region, frames: int, k: int = SAMPLES):
        self.sq = sq
        self.want = {t.file_frame(o) for o in sample_frames(Segment(0, frames, ()), k)}
        self.squares: dict[int, np.ndarray] = {}

    def __call__(self, index: int, bgr: np.ndarray) -> None:
        if index in self.want and index not in self.squares:
            self.squares[index] = detect_input(bgr[:, :, ::-1], self.sq)


def check(det: Detector, path: Path, t: Timing, sq: Region, seg: Segment, k: int = SAMPLES, threshold: float = THRESHOLD,
          prefetched: dict[int, np.ndarray] | None = None) -> FaceScore:
    """Score the face on ``k`` frames of the kept segment; ``Rejected(no-face)`` below ``threshold``.
    Frames in ``prefetched`` (``Prefetch.squares``) are not decoded again."""
    import numpy as np

    outs = sample_frames(seg, k)
    want = [t.file_frame(o) for o in outs]
    squares = {i: prefetched[i] for i in want if prefetched and i in prefetched}
    missing = [i for i in want if i not in squares]
    if missing:
        squares.update((i, detect_input(f, sq)) for i, f in grab(path, missing).items())
    ious = tuple(round(square_iou(det, squares[i], sq, threshold), 4) for i in want)
    score = FaceScore(round(float(np.median(ious)), 4), ious, outs)
    if score.iou < threshold:
        raise Rejected(NO_FACE, f"median face IoU {score.iou:.2f} < {threshold:g} on frames {', '.join(map(str, outs))} (IoUs {', '.join(f'{v:.2f}' for v in ious)})",
                       face_iou=score.iou, face_ious=ious, face_frames=outs)
    return score
