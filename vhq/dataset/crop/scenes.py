"""Shot cuts inside a clip (PySceneDetect's AdaptiveDetector), and the segment a clip keeps.

Only the clip's own span is decoded, plus ``PAD`` seconds either side: the detector compares each
frame with a rolling window of its neighbours, and suppresses cuts closer than ``min_scene_len``
to the start, so it needs a little context to judge the clip's first and last frames. Cuts in the
padding are ignored.

``on_frame`` sees every decoded frame at full resolution (file frame index, BGR image), so a later
check can reuse frames this pass decodes anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vhq.dataset.crop.geometry import Rejected, Timing
from vhq.errors import MediaError

if TYPE_CHECKING:
    import numpy as np

SCENE_CUT = "scene-cut"
PAD = 1.0
THRESHOLD = 3.0  # AdaptiveDetector's adaptive_threshold (its default)
MIN_CONTENT = 15.0  # AdaptiveDetector's min_content_val (its default)
MIN_FRAMES = 64  # FOMM's --min_frames: shorter tubes are not clips


@dataclass(frozen=True)
class Segment:
    start: int  # output frames kept: [start, end)
    end: int
    cuts: tuple[int, ...]  # output frames where a new shot starts

    @property
    def frames(self) -> int:
        return self.end - self.start


class _Tap:
    """A PySceneDetect video stream that shows each frame it reads to ``on_frame``."""

    def __init__(self, video, src_fps: float, on_frame: Callable[[int, np.ndarray], None]):
        self._video, self._fps, self._on_frame = video, src_fps, on_frame

    def read(self, decode: bool = True):
        image = self._video.read(decode)
        if decode and image is not False:
            self._on_frame(round(self._video.position.seconds * self._fps), image)
        return image

    def __getattr__(self, name):
        return getattr(self._video, name)


def find_cuts(path: Path, t: Timing, frames: int, threshold: float = THRESHOLD, min_content: float = MIN_CONTENT, pad: float = PAD,
              on_frame: Callable[[int, np.ndarray], None] | None = None) -> tuple[int, ...]:
    """Output-frame indices ``0 < k < frames`` at which a new shot starts."""
    import logging

    from scenedetect import AdaptiveDetector, SceneManager, open_video

    logging.getLogger("pyscenedetect").setLevel(logging.ERROR)
    try:
        video = open_video(str(path), backend="pyav")
        start = max(0.0, t.t0 - pad)
        if start > 0:
            video.seek(start)
        sm = SceneManager()
        sm.add_detector(AdaptiveDetector(adaptive_threshold=threshold, min_content_val=min_content))
        sm.detect_scenes(video if on_frame is None else _Tap(video, t.src_fps, on_frame), end_time=t.t1 + pad)
        cut_times = [start.seconds for start, _ in sm.get_scene_list(start_in_scene=True)[1:]]
    except Exception as e:  # noqa: BLE001 - PySceneDetect and its backends raise many types
        raise MediaError(f"{path}: scene detection failed ({e.__class__.__name__}: {e})") from None
    cuts = sorted({int(round((c - t.t0) * t.out_fps)) for c in cut_times})
    return tuple(k for k in cuts if 0 < k < frames)


def keep_segment(frames: int, cuts: tuple[int, ...], min_frames: int = MIN_FRAMES) -> Segment:
    """The longest cut-free segment (the earliest among equals), or ``Rejected`` when it is shorter
    than ``min_frames``. A clip without cuts is kept whole, whatever its length."""
    if not cuts:
        return Segment(0, frames, ())
    edges = [0, *cuts, frames]
    a, b = max(zip(edges, edges[1:]), key=lambda s: (s[1] - s[0], -s[0]))
    if b - a < min_frames:
        raise Rejected(SCENE_CUT, f"cuts at frame(s) {', '.join(map(str, cuts))}; the longest shot has {b - a} frames < {min_frames}")
    return Segment(a, b, tuple(cuts))
