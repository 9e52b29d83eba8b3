import numpy as np

from vhq.testing import synthetic


def test_gray_walk_is_unique_and_changes_one_step():
    codes = np.stack([synthetic.code_color(i) for i in range(synthetic.CODE_PERIOD)]).astype(int)
    assert len({tuple(c) for c in codes}) == synthetic.CODE_PERIOD
    steps = np.abs(np.diff(codes, axis=0)).sum(1)
    assert set(steps.tolist()) == {synthetic.STEP}
    for i in (0, 1, 77, 4095):
        assert synthetic.decode_color(synthetic.code_color(i) + np.array([5, -5, 3])) == i


def test_index_survives_crop_and_resize():
    import cv2

    spec = synthetic.SyntheticVideo(width=640, height=360, first_index=100)
    frame = spec.frame(7)
    x0, y0, x1, y1 = spec.face_box(7)
    cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, 1.6 * max(x1 - x0, y1 - y0)
    crop = frame[int(cy - side / 2) : int(cy + side / 2), int(cx - side / 2) : int(cx + side / 2)]
    small = cv2.resize(crop, (128, 128), interpolation=cv2.INTER_LANCZOS4)
    assert synthetic.decode_frame_index(small) == 107


def test_face_box_matches_a_real_face_detector():
    from facenet_pytorch import MTCNN

    spec = synthetic.SyntheticVideo(width=640, height=360)
    mtcnn = MTCNN(keep_all=True, device="cpu")
    for t in (0, 20):
        boxes, probs = mtcnn.detect(spec.frame(t))
        assert boxes is not None and probs.astype(float).max() > 0.95
        b = boxes.astype(float)[int(np.argmax(probs.astype(float)))]
        g = spec.face_box(t)
        ix = max(0, min(b[2], g[2]) - max(b[0], g[0])) * max(0, min(b[3], g[3]) - max(b[1], g[1]))
        iou = ix / ((b[2] - b[0]) * (b[3] - b[1]) + (g[2] - g[0]) * (g[3] - g[1]) - ix)
        assert iou > 0.5, (t, b, g, iou)
    boxes, _ = mtcnn.detect(spec.with_(face=False).frame(0))
    assert boxes is None


def test_cut_changes_the_picture_not_the_code():
    spec = synthetic.SyntheticVideo(width=320, height=180, cut_at=10)
    before, after = spec.frame(9).astype(int), spec.frame(10).astype(int)
    assert np.abs(after - before).mean() > 10
    assert synthetic.decode_frame_index(spec.frame(10)) == 10
