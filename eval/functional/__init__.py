"""Pure metric functions over tensors: no state, no file I/O, no weight loading.

Every function returns per-frame values (float64) so callers can weight them per frame or per
video; the streaming accumulators in ``eval.metrics`` and the ``vhq eval`` runner call the same
functions, so the two APIs cannot drift.
"""

from eval.functional.identity import aed_per_frame, identity_distance
from eval.functional.keypoints import KeypointFrames, akd_per_frame, keypoint_frame_stats
from eval.functional.l1 import l1_per_frame, to_unit
from eval.functional.lpips import lpips_from_features, lpips_per_frame

__all__ = [
    "KeypointFrames",
    "aed_per_frame",
    "akd_per_frame",
    "identity_distance",
    "keypoint_frame_stats",
    "l1_per_frame",
    "lpips_from_features",
    "lpips_per_frame",
    "to_unit",
]
