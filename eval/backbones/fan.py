"""face-alignment's 2D FAN-4 with its S3FD detector, loaded offline from the registry.

Flags pinned as pose-evaluation's ``extract.py`` uses them (``LandmarksType.TWO_D``,
``flip_input=False``) plus ``compile=False`` (torch.compile costs minutes on CPU for no gain).
The detector reads its file through ``face_detector_kwargs={'path_to_detector': …}``; the FAN is
found as ``<hub dir>/checkpoints/2DFAN4-11f355bf06.pth.tar`` (a link to the registry's file, see
``hub_dir_with``), so the library never downloads. Frames go in as uint8 RGB at the evaluation
size; the highest-score S3FD box (score > 0.5 after NMS at IoU 0.3) is the face, as in
pose-evaluation. The networks are face-alignment's; decoding their outputs is ``fan_decode``'s
(the same numbers, without the library's per-process numba compilation).
"""

from __future__ import annotations

import numpy as np
import torch

from eval.backbones import fan_decode
from eval.backbones.common import Landmarker, combine_provenance, hub_dir_with
from vhq import weights
from vhq.io.cache import cache_root

WEIGHTS = ["fan2d", "s3fd"]


def face_alignment_version() -> str:
    """The installed face-alignment version: its FAN and detector code change AKD, so it names the backbone."""
    from importlib import metadata

    return metadata.version("face-alignment")


class FanLandmarker(Landmarker):
    name = "fan2d"

    def __init__(self, device: str | torch.device = "cpu"):
        import face_alignment

        self.backbone_id = f"face-alignment-{face_alignment_version()}:2DFAN4+s3fd:flip_input=False"

        fan_path = weights.path("fan2d")
        s3fd_path = weights.path("s3fd")
        url_name = face_alignment.api.models_urls["2DFAN-4"].rsplit("/", 1)[-1]
        with hub_dir_with({url_name: fan_path}, cache_root() / "torch-hub"):
            self.fa = face_alignment.FaceAlignment(
                face_alignment.LandmarksType.TWO_D,
                device=str(device),
                flip_input=False,
                face_detector="sfd",
                face_detector_kwargs={"path_to_detector": str(s3fd_path)},
                compile=False,
            )

    @staticmethod
    def provenance() -> dict:
        return combine_provenance(WEIGHTS)

    def detect(self, frame: np.ndarray) -> np.ndarray | None:
        """The highest-score face box ``[x1,y1,x2,y2,score]`` of one uint8 RGB frame, or None."""
        det = self.fa.face_detector
        with torch.inference_mode():
            outputs = det.face_detector(fan_decode.s3fd_input(frame, det.device))
        return fan_decode.best_face(outputs, det.filter_threshold)

    def landmarks(self, frame: np.ndarray, box) -> np.ndarray | None:
        """68 (x, y) landmarks in frame pixels for the face in ``box``."""
        from face_alignment.utils import crop

        center, scale = fan_decode.crop_frame(np.asarray(box), self.fa.face_detector.reference_scale)
        image = crop(frame, center, scale)
        x = torch.from_numpy(image.transpose((2, 0, 1)).astype(np.float32) / 255.0)[None].to(self.fa.device, dtype=self.fa.dtype)
        with torch.inference_mode():
            heatmaps = self.fa.face_alignment_net(x)
        if isinstance(heatmaps, list):
            heatmaps = heatmaps[-1]
        peaks = fan_decode.heatmap_peaks(heatmaps[0])
        return fan_decode.peaks_to_image(peaks, center, scale).astype(np.float64)
