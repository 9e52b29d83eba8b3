"""`--crop liax`: upstream's first-frame face-crop rule, on worked examples and through `vhq animate`."""

from __future__ import annotations

import pytest

from lia.x.crop import enlarged_box, face_square, square_of_box
from vhq.errors import BadInput


@pytest.mark.parametrize("box, frame, enlarged, square", [
    # 80x100 face: width grows by 0.4375 (to square it up), height by 0.25, the top by 1.5 x that
    ((280, 120, 360, 220), (360, 640), (150, 163, 245, 82), (245, 88, 395, 238)),
    # at the top-left corner: int() truncates toward zero, then the box is clamped to the frame
    ((10, 5, 60, 70), (100, 200), (83, 86, 0, 0), (0, 2, 83, 85)),
])
def test_upstream_rule_on_worked_examples(box, frame, enlarged, square):
    h, w = frame
    assert enlarged_box(box, h, w) == enlarged
    assert square_of_box(*enlarged, h, w) == square
    x0, y0, x1, y1 = square
    assert x1 - x0 == y1 - y0 == min(enlarged[:2])


class OneFace:
    def __init__(self, *faces):
        self.faces_found = list(faces)

    def faces(self, image):
        return self.faces_found


def test_the_most_confident_face_is_used_and_no_face_is_an_error():
    import numpy as np

    frame = np.zeros((360, 640, 3), np.uint8)
    det = OneFace(((10, 5, 60, 70), 0.85), ((280, 120, 360, 220), 0.99))
    assert face_square(frame, det, "clip.mp4") == (245, 88, 395, 238)
    with pytest.raises(BadInput, match="clip.mp4: no face found on the first frame for --crop liax"):
        face_square(frame, OneFace(), "clip.mp4")
