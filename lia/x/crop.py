"""Upstream LIA-X's face crop (``utils/crop.py``), for inputs prepared the way its demos were.

One face box, from the **first** frame only (upstream: S3FD, the first detection; here the most
confident face of the detector handed in, vhq's MTCNN in the command line), then:

1. enlarge it (``compute_bbox``): each side grows by ``max(e, ((1 + 2e) * other - own) / (2 * own))``
   of its length, so the box becomes roughly square, and the top grows by a further factor
   ``1 + t`` (``e`` = 0.25, ``t`` = 0.5); the corners are truncated to integers and clamped to
   the frame;
2. cut a square of side ``min(w, h)`` of that box, centred on it, shifted back inside the frame.

The same square is applied to every frame of a video. Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from vhq.errors import BadInput

ENLARGE = 0.25  # upstream --increase_scale
ENLARGE_TOP = 0.5  # upstream --increase_top_scale


class FaceDetector(Protocol):
    def faces(self, image) -> list[tuple[tuple[float, float, float, float], float]]: ...


def enlarged_box(box: Sequence[float], frame_h: int, frame_w: int, enlarge: float = ENLARGE,
                 enlarge_top: float = ENLARGE_TOP) -> tuple[int, int, int, int]:
    """Upstream ``compute_bbox``: ``(w, h, left, top)`` of the enlarged, clamped box."""
    left, top, right, bot = box
    width, height = right - left, bot - top
    grow_w = max(enlarge, ((1 + 2 * enlarge) * height - width) / (2 * width))
    grow_h = max(enlarge, ((1 + 2 * enlarge) * width - height) / (2 * height))
    left = int(left - grow_w * width)
    top = int(top - grow_h * height * (1 + enlarge_top))
    right = int(right + grow_w * width)
    bot = int(bot + grow_h * height)
    top, bot, left, right = max(0, top), min(bot, frame_h), max(0, left), min(right, frame_w)
    return right - left, bot - top, left, top


def square_of_box(w: int, h: int, left: int, top: int, frame_h: int, frame_w: int) -> tuple[int, int, int, int]:
    """Upstream ``crop``: ``(x0, y0, x1, y1)`` of the ``min(w, h)`` square centred on the box, inside the frame."""
    side = min(h, w)
    y0 = max(0, top + h // 2 - side // 2)
    x0 = max(0, left + w // 2 - side // 2)
    if y0 + side > frame_h:
        y0 -= y0 + side - frame_h
    if x0 + side > frame_w:
        x0 -= x0 + side - frame_w
    y1, x1 = min(y0 + side, frame_h), min(x0 + side, frame_w)
    return max(0, x0), max(0, y0), x1, y1


def face_square(first_frame, detector: FaceDetector, what: str) -> tuple[int, int, int, int]:
    """The crop square ``(x0, y0, x1, y1)`` for an image or a video's first frame (uint8 ``[H, W, 3]``)."""
    faces = detector.faces(first_frame)
    if not faces:
        raise BadInput(f"{what}: no face found on the first frame for --crop liax", "crop the input yourself and pass --crop none")
    box = max(faces, key=lambda f: f[1])[0]
    h, w = first_frame.shape[:2]
    x0, y0, x1, y1 = square_of_box(*enlarged_box(box, h, w), h, w)
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise BadInput(f"{what}: the face box {tuple(round(v) for v in box)} gives an empty crop", "crop the input yourself and pass --crop none")
    return x0, y0, x1, y1
