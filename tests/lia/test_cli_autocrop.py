"""`vhq animate` through the real CLI: --crop auto on a wide frame, the registry's lia_vox fallback."""

from __future__ import annotations

import argparse

import pytest
import torch

from lia import Discriminator, Generator
from vhq.dataset.crop.autocrop import AUTO_ENLARGE, video_square
from vhq.errors import BadInput
from vhq.io import video
from vhq.testing import synthetic


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """A 640x360 talking-head clip (face in the middle, background around) and one frame as a photo."""
    root = tmp_path_factory.mktemp("wide")
    spec = synthetic.SyntheticVideo(width=640, height=360, frames=12)
    synthetic.write_synthetic(root / "drive.mp4", spec)
    video.write_image(root / "photo.png", spec.with_(seed=3).frame(0))
    return root, spec


def test_video_square_covers_the_face_over_the_clip(wide):
    root, spec = wide
    sq = video_square(root / "drive.mp4")
    x0, y0, x1, y1 = sq.xyxy
    assert x1 - x0 == y1 - y0 and 0 <= x0 and x1 <= 640 and 0 <= y0 and y1 <= 360
    for t in range(spec.frames):
        fx0, fy0, fx1, fy1 = spec.face_box(t)
        assert x0 <= fx0 + 8 and fx1 - 8 <= x1 and y0 <= fy0 + 8 and fy1 - 8 <= y1, (t, sq.xyxy, spec.face_box(t))
    face = spec.face_box(0)
    assert sq.side == pytest.approx(AUTO_ENLARGE * max(face[2] - face[0], face[3] - face[1]), rel=0.25)


def test_no_face_is_a_clear_error(tmp_path):
    synthetic.write_synthetic(tmp_path / "empty.mp4", synthetic.SyntheticVideo(width=320, height=180, frames=6, face=False))
    with pytest.raises(BadInput, match="empty.mp4: no face found"):
        video_square(tmp_path / "empty.mp4")


def test_animate_crop_auto_with_the_registry_checkpoint(cli, wide, tmp_path):
    root, spec = wide
    torch.manual_seed(0)
    official = tmp_path / "vox.pt"
    args = argparse.Namespace(size=32, latent_dim_style=512, latent_dim_motion=20, channel_multiplier=1)
    torch.save({"gen": Generator(32).state_dict(), "dis": Discriminator(32).state_dict(), "g_optim": {}, "d_optim": {}, "args": args}, official)
    code, out, err = cli("weights", "import", "lia_vox", official)
    assert code == 0, err
    dest = tmp_path / "out.mp4"
    code, out, err = cli("animate", "--source", root / "photo.png", "--driving", root / "drive.mp4", "--out", dest,
                         "--crop", "auto", "--device", "cpu", "--batch", "5")
    assert code == 0, err
    assert "--crop auto" in err
    info = video.probe(dest)
    assert (info.frames, info.width, info.height) == (spec.frames, 32, 32)
    code, _, err = cli("animate", "--source", root / "photo.png", "--driving", root / "drive.mp4", "--out", tmp_path / "x.mp4",
                       "--size", "64", "--device", "cpu")
    assert code == 1 and "--size 64" in err and not (tmp_path / "x.mp4").exists()
