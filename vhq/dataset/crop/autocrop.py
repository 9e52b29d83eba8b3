"""Face-crop any photo or video the way the dataset is cropped, so user inputs look like training data.

The face box is MTCNN's (the largest face; for a video, the union of the boxes found on a few
frames spread over it, like a manifest box covers a face over its whole clip), and the square
follows the dataset's rule (``vhq.dataset.crop.geometry.square_around``): centred on the box, side ``enlarge`` ×
the box's longer side, shifted inside the frame. MTCNN boxes are tight around the face, so the
default enlargement (``AUTO_ENLARGE`` = 1.6) is larger than the one applied to manifest boxes,
which already carry a margin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vhq.dataset.crop.faces import Detector
from vhq.dataset.crop.geometry import Region, Rejected, square_around
from vhq.errors import BadInput
from vhq.io import video

AUTO_ENLARGE = 1.6
VIDEO_SAMPLES = 5


def _largest(det: Detector, image: np.ndarray):
    faces = det.faces(np.ascontiguousarray(image))
    if not faces:
        return None
    return max(faces, key=lambda f: (f[0][2] - f[0][0]) * (f[0][3] - f[0][1]))[0]


def face_square(images: list[np.ndarray], what: Path, enlarge: float = AUTO_ENLARGE, detector: Detector | None = None) -> Region:
    """The crop square for ``images`` (frames of one shot); BadInput naming ``what`` if no face is found."""
    det = detector or Detector()
    boxes = [b for b in (_largest(det, img) for img in images) if b is not None]
    if not boxes:
        raise BadInput(f"{what}: no face found for --crop auto", "crop the input yourself and pass --crop none")
    box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
    h, w = images[0].shape[:2]
    try:
        return square_around(box, w, h, enlarge=enlarge, min_crop=1)
    except Rejected as e:
        raise BadInput(f"{what}: cannot face-crop: {e.detail}", "crop the input yourself and pass --crop none") from None


def crop(frames: torch.Tensor, sq: Region) -> torch.Tensor:
    """``[..., H, W, 3]`` frames cut to the square."""
    x0, y0, x1, y1 = sq.xyxy
    return frames[..., y0:y1, x0:x1, :]


def video_square(path: Path, enlarge: float = AUTO_ENLARGE, detector: Detector | None = None) -> Region:
    info = video.probe(path)
    picks = sorted({int(round(i)) for i in np.linspace(0, max(info.frames - 1, 0), VIDEO_SAMPLES)})
    frames = [f.numpy() for i in picks for b in video.iter_frames(path, batch_size=1, start=i, count=1) for f in b]
    return face_square(frames, path, enlarge, detector)
