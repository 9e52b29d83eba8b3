"""Crop geometry and timing: where a manifest clip lies in a downloaded file, and which region to cut.

The manifest box (pixels of a ``ref_width × ref_height`` frame) is first scaled to the downloaded
frame, x and y separately (as FOMM's ``load_videos.py`` does). Then one of three rules (``--box``):

``vhq`` (``square_around``), the default:

1. the box is clipped to the frame; less than ``min_inside`` of its area inside the frame means the
   face is cut off by the frame edge → ``out-of-frame``;
2. the square has side ``enlarge × max(w, h)`` (``ENLARGE`` = 1.1 by default; FOMM's boxes already
   carry a margin, so the face fills about 3/4 of the crop), centred on the box; when that does not
   fit in the frame the side shrinks to the frame's short side, as long as it still covers
   ``max(w, h)`` — otherwise the box itself cannot fit and the clip is ``out-of-frame``;
3. a square that leaves the frame is shifted inside it (the shift is recorded).

``fomm-square`` (``crop_vox_square``): FOMM's ``crop_vox.py`` as published today
(``compute_aspect_preserved_bbox`` and the border test of ``crop_bbox_from_frames`` in its
``util.py``): each side of a box grows by ``max(increase, …)`` of it so that both become ``(1 + 2 ×
increase) × max(w, h)``, every edge truncated with ``int()``; a square reaching past any frame edge
drops the clip (``out-of-frame``; an edge exactly on the border is kept). No shift, no shrink.
crop_vox applies this with ``increase`` 0.1 to its face detector's tube box. The published
``vox-metadata.csv`` was written by the crop_vox of June 2019, whose boxes are the tube box grown
by 0.1 of its size on *each axis* (``compute_increased_bbox``): not squares, sometimes past the
frame. Its longer side is therefore already 1.2 × the tube's, so crop_vox's square of the tube is
the square of the published box's longer side: ``enlarge`` 1.0 (``increase = (enlarge - 1) / 2``)
is the default here, and ``--enlarge 1.2`` grows the published box once more.

``fomm-stretch`` (``load_box``): FOMM's ``load_videos.py``: the box itself, each edge scaled as
``int(edge / (ref / size))``, cut the way numpy slicing cuts it (clipped at the right and bottom
frame edges) and later resized to the output square without keeping the aspect ratio. Nothing is
dropped for the border; an empty region is ``out-of-frame``.

In every rule a region whose shorter side is below ``min_crop`` source pixels is ``too-small``
(upscaling it to 512 would invent detail). Measured on the region, at the source resolution.

Time (``locate``): the clip's frames are on the manifest's timeline (``fps``, 25 for VoxCeleb) of
the whole YouTube video; a downloaded section file starts at ``section.start`` seconds of it, so
clip time ``t`` is file time ``t - section.start``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from vhq.dataset.download.status import Section, sections
from vhq.dataset.manifest import Clip

VHQ = "vhq"
FOMM_SQUARE = "fomm-square"
FOMM_STRETCH = "fomm-stretch"
BOX_RULES = (VHQ, FOMM_SQUARE, FOMM_STRETCH)

ENLARGE = 1.1
CROP_VOX_INCREASE = 0.1  # crop_vox.py's --increase
FOMM_SQUARE_ENLARGE = 1.0  # the published boxes already carry crop_vox's increase (see above)
DEFAULT_ENLARGE = {VHQ: ENLARGE, FOMM_SQUARE: FOMM_SQUARE_ENLARGE, FOMM_STRETCH: None}
MIN_INSIDE = 0.9
MIN_CROP = 400

OUT_OF_FRAME = "out-of-frame"
TOO_SMALL = "too-small"


@dataclass(frozen=True)
class Region:
    """The source pixels to cut: a square for ``vhq``, within a pixel of one for ``fomm-square``,
    the box's own shape for ``fomm-stretch`` (the resize to a square then changes its aspect)."""

    x: int
    y: int
    width: int
    height: int
    box: tuple[float, float, float, float]  # the manifest box scaled to the source frame
    enlarge: float | None  # the factor actually used (vhq: smaller than asked when the frame is too small)
    shift: tuple[int, int] = (0, 0)  # how far the square was moved to lie inside the frame (vhq only)

    @property
    def side(self) -> int:
        """The shorter side: the square's side, and what ``min_crop`` is measured on."""
        return min(self.width, self.height)

    @property
    def xyxy(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.width, self.y + self.height)


class Rejected(Exception):
    """A clip that cannot be cropped; ``reason`` is the short code recorded in crop_status.csv."""

    def __init__(self, reason: str, detail: str, **values):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.values = values  # measurements to record with the drop (e.g. the face IoU)


def scale_box(clip: Clip, width: int, height: int) -> tuple[float, float, float, float]:
    sx, sy = width / clip.ref_width, height / clip.ref_height
    return (clip.left * sx, clip.top * sy, clip.right * sx, clip.bottom * sy)


def area(b) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def iou(a, b) -> float:
    inter = area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def crop_square(clip: Clip, width: int, height: int, enlarge: float = ENLARGE, min_crop: int = MIN_CROP, min_inside: float = MIN_INSIDE) -> Region:
    """The ``vhq`` square to cut from a ``width × height`` source for ``clip``, or ``Rejected``."""
    return square_around(scale_box(clip, width, height), width, height, enlarge, min_crop, min_inside)


def crop_region(clip: Clip, width: int, height: int, rule: str = VHQ, enlarge: float | None = None, min_crop: int = MIN_CROP,
                min_inside: float = MIN_INSIDE) -> Region:
    """The region to cut from a ``width × height`` source for ``clip`` by the ``--box`` rule, or ``Rejected``."""
    if rule == VHQ:
        return crop_square(clip, width, height, ENLARGE if enlarge is None else enlarge, min_crop, min_inside)
    if rule == FOMM_SQUARE:
        factor = FOMM_SQUARE_ENLARGE if enlarge is None else enlarge
        return crop_vox_square(scale_box(clip, width, height), width, height, (factor - 1) / 2, min_crop)
    if rule == FOMM_STRETCH:
        return load_box(clip, width, height, min_crop)
    raise ValueError(f"unknown box rule {rule!r}")


def _seen(box) -> dict:
    return dict(box_left=round(box[0], 2), box_top=round(box[1], 2), box_right=round(box[2], 2), box_bottom=round(box[3], 2))


def _check_size(region: Region, width: int, height: int, min_crop: int) -> Region:
    if region.side < min_crop:
        raise Rejected(TOO_SMALL, f"crop {region.width}x{region.height}px, shorter side < --min-crop {min_crop}px at the source's {width}x{height}",
                       crop_side=region.side, crop_width=region.width, crop_height=region.height, **_seen(region.box))
    return region


def crop_vox_square(box, width: int, height: int, increase: float = CROP_VOX_INCREASE, min_crop: int = MIN_CROP) -> Region:
    """crop_vox.py's square around ``box``; ``Rejected`` when it reaches past the ``width × height`` frame."""
    left, top, right, bot = box
    w, h = right - left, bot - top
    wi = max(increase, ((1 + 2 * increase) * h - w) / (2 * w))
    hi = max(increase, ((1 + 2 * increase) * w - h) / (2 * h))
    x0, y0, x1, y1 = int(left - wi * w), int(top - hi * h), int(right + wi * w), int(bot + hi * h)
    outside = {"left": -min(0, x0), "top": -min(0, y0), "right": max(0, x1 - width), "bottom": max(0, y1 - height)}
    if any(outside.values()):
        by = ", ".join(f"{k} {v}px" for k, v in outside.items() if v)
        raise Rejected(OUT_OF_FRAME, f"the square ({x0},{y0},{x1},{y1}) around the box {_fmt(box)} leaves the {width}x{height} frame ({by})",
                       **_seen(box))
    return _check_size(Region(x0, y0, x1 - x0, y1 - y0, tuple(round(v, 2) for v in box), 1 + 2 * increase), width, height, min_crop)


def load_box(clip: Clip, width: int, height: int, min_crop: int = MIN_CROP) -> Region:
    """load_videos.py's region: the box's edges scaled and truncated the way that script does, clipped at the frame."""
    x0, x1 = (int(v / (clip.ref_width / width)) for v in (clip.left, clip.right))
    y0, y1 = (int(v / (clip.ref_height / height)) for v in (clip.top, clip.bottom))
    box = scale_box(clip, width, height)
    x1, y1 = min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        raise Rejected(OUT_OF_FRAME, f"the box {_fmt(box)} lies outside the {width}x{height} frame", **_seen(box))
    return _check_size(Region(x0, y0, x1 - x0, y1 - y0, tuple(round(v, 2) for v in box), None), width, height, min_crop)


def square_around(box, width: int, height: int, enlarge: float = ENLARGE, min_crop: int = MIN_CROP, min_inside: float = MIN_INSIDE) -> Region:
    """The ``vhq`` rule for a face box in a ``width × height`` frame (steps 1–3 above, then the size)."""
    seen = _seen(box)
    clipped = (max(0.0, box[0]), max(0.0, box[1]), min(float(width), box[2]), min(float(height), box[3]))
    inside = area(clipped) / area(box)
    if inside < min_inside:
        raise Rejected(OUT_OF_FRAME, f"only {inside:.0%} of the box {_fmt(box)} lies inside the {width}x{height} frame (need {min_inside:.0%})", **seen)
    need = max(box[2] - box[0], box[3] - box[1])
    side = min(enlarge * need, float(min(width, height)))
    if side + 0.5 < need:
        raise Rejected(OUT_OF_FRAME, f"the box {_fmt(box)} needs a {need:.0f}px square, the {width}x{height} frame has {min(width, height)}px", **seen)
    side_px = int(round(side))
    if side_px < min_crop:
        raise Rejected(TOO_SMALL, f"crop side {side_px}px < --min-crop {min_crop}px at the source's {width}x{height}", crop_side=side_px, **seen)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0, y0 = int(round(cx - side_px / 2)), int(round(cy - side_px / 2))
    x, y = min(max(x0, 0), width - side_px), min(max(y0, 0), height - side_px)
    return Region(x, y, side_px, side_px, tuple(round(v, 2) for v in box), round(side_px / need, 4), (x - x0, y - y0))


def _fmt(b) -> str:
    return "(" + ",".join(f"{v:.0f}" for v in b) + ")"


# ----------------------------------------------------------------------------------------------
# Where the clip is in the downloaded files

NOT_DOWNLOADED = "not-downloaded"
NOT_IN_DOWNLOAD = "not-in-download"
BEYOND_VIDEO = "beyond-video"


@dataclass(frozen=True)
class Source:
    path: Path
    offset: float  # source-timeline seconds of the file's first frame
    rel: str  # path relative to the download folder, as recorded


def locate(clip: Clip, row: dict | None, videos: Path) -> Source:
    """The downloaded file holding ``clip`` (from download_status.csv) or ``Rejected``."""
    if row is None:
        raise Rejected(NOT_DOWNLOADED, f"{clip.video_id} has no row in {videos}/download_status.csv")
    if row.get("status") != "ok":
        raise Rejected(NOT_DOWNLOADED, f"{clip.video_id}: download status {row.get('status')} ({(row.get('reason') or '')[:120]})")
    secs: list[Section] = sections(row, videos)
    for s in secs:
        if s.contains(clip.start_s, clip.end_s):
            if not s.file.is_file():
                raise Rejected(NOT_DOWNLOADED, f"{s.file} is listed in download_status.csv but missing")
            return Source(s.file, s.start, s.file.relative_to(videos).as_posix())
    spans = ", ".join(f"{s.start:.2f}-{s.end:.2f}s" for s in secs) or "none"
    raise Rejected(NOT_IN_DOWNLOAD, f"{clip.start_s:.2f}-{clip.end_s:.2f}s is in no downloaded section ({spans})")


@dataclass(frozen=True)
class Timing:
    """The clip on the file's own clock.

    ``t0``/``t1`` are file seconds; output frame ``k`` shows clip time ``(start_frame + k) / fps``.
    With ``resample`` False the source already runs at the manifest's fps and output frame ``k`` is
    file frame ``first + k`` exactly; otherwise ffmpeg's fps filter picks the nearest source frame.
    """

    t0: float
    t1: float
    src_fps: float
    out_fps: float
    first: int  # file frame index at t0 (rounded)
    resample: bool

    def file_frame(self, k: float) -> int:
        """File frame index shown at output frame ``k`` (nearest)."""
        if not self.resample:
            return self.first + int(round(k))
        return int(math.floor((self.t0 + k / self.out_fps) * self.src_fps + 0.5))


def timing(clip: Clip, source: Source, src_fps: float, src_frames: int) -> Timing:
    t0 = clip.start_s - source.offset
    t1 = clip.end_s - source.offset
    half = 0.5 / src_fps
    duration = src_frames / src_fps
    if t0 < -half or t1 > duration + half:
        raise Rejected(BEYOND_VIDEO, f"clip spans {t0:.2f}-{t1:.2f}s of {source.rel}, which holds 0-{duration:.2f}s")
    resample = abs(src_fps - clip.fps) > 1e-3
    t = Timing(max(t0, 0.0), t1, src_fps, clip.fps, int(round(max(t0, 0.0) * src_fps)), resample)
    if t.file_frame(clip.frames - 1) >= src_frames:
        raise Rejected(BEYOND_VIDEO, f"clip needs frame {t.file_frame(clip.frames - 1)} of {source.rel}, which has {src_frames} frames")
    return t
