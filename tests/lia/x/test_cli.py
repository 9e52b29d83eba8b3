"""`vhq animate --model liax`, `vhq lia directions --model liax` and the `lia_x` registry entry."""

from __future__ import annotations

import json

import pytest

from vhq.io import video
from vhq.testing import synthetic


@pytest.fixture(scope="module")
def media(tmp_path_factory, astronaut128, driving128):
    root = tmp_path_factory.mktemp("liax-cli")
    video.write_image(root / "source.png", astronaut128)
    video.write_video(root / "driving.mp4", driving128[:3], fps=10)
    return root


def test_animate_with_the_tiny_model(cli, media, tiny_liax_file, tmp_path):
    out = tmp_path / "out.mp4"
    code, _, err = cli("animate", "--model", "liax", "--ckpt", tiny_liax_file, "--source", media / "source.png",
                            "--driving", media / "driving.mp4", "--out", out, "--batch", "2", "--device", "cpu")
    assert code == 0, err
    info = video.probe(out)
    assert (info.frames, info.width, info.height) == (3, 64, 64)
    # a LIA-X file given to --model lia is refused in one line, and the other way round
    code, _, err = cli("animate", "--ckpt", tiny_liax_file, "--source", media / "source.png", "--driving", media / "driving.mp4",
                       "--out", tmp_path / "x.mp4", "--device", "cpu")
    assert code == 1 and err.startswith("error: ") and "Traceback" not in err


def test_registry_weights_show_their_licence(cli, media, tiny_liax_file, tmp_path):
    code, _, err = cli("lia", "reference", "--model", "liax", "--source", media / "source.png", "--out", tmp_path / "r.png")
    assert code == 1
    assert "weight 'lia_x'" in err and "lia-x.pt" in err and "huggingface.co/YaohuiW/LIA-X" in err
    assert "vhq weights import lia_x" in err and "Traceback" not in err
    code, _, err = cli("weights", "import", "lia_x", tiny_liax_file)
    assert code == 0, err
    code, _, err = cli("lia", "reference", "--model", "liax", "--source", media / "source.png", "--out", tmp_path / "r.png", "--device", "cpu")
    assert code == 0, err
    assert "lia_x: CC BY-NC 4.0 (wyhsirius/LIA-X): non-commercial use only" in err
    assert video.read_image(tmp_path / "r.png").shape == (64, 64, 3)


def test_named_direction_walk(cli, media, tiny_liax_file, tmp_path):
    out = tmp_path / "dirs"
    code, _, err = cli("lia", "directions", "--model", "liax", "--ckpt", tiny_liax_file, "--source", media / "source.png",
                            "--out", out, "--direction", "yaw", "--direction", "Mouth", "--range", "-1,1", "--steps", "3", "--device", "cpu")
    assert code == 0, err
    walk = json.loads((out / "walk.json").read_text())
    assert walk["directions"] == [37, 25] and walk["values"] == [-1.0, 0.0, 1.0]
    assert walk["names"] == {"37": "yaw", "25": "mouth"}
    assert sorted(p.name for p in out.iterdir()) == ["direction_25.mp4", "direction_37.mp4", "grid.png", "walk.json"]
    assert video.probe(out / "direction_37.mp4").frames == 3


@pytest.mark.parametrize("args, message", [
    (("--model", "liax", "--direction", "nose"), "--direction 'nose': not a named LIA-X direction"),
    (("--direction", "yaw"), "use it with --model liax"),
    (("--model", "liax", "--range", "1,-1"), "--range '1,-1': expected R >= 0"),
])
def test_direction_mistakes_are_one_line_errors(cli, media, tiny_liax_file, tmp_path, args, message):
    code, _, err = cli("lia", "directions", "--ckpt", tiny_liax_file, "--source", media / "source.png", "--out", tmp_path / "d", *args)
    assert code == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()


def test_crop_liax_cuts_the_first_frames_face_square(cli, tiny_liax_file, tmp_path):
    spec = synthetic.SyntheticVideo(width=480, height=270, frames=2)
    synthetic.write_synthetic(tmp_path / "drive.mp4", spec)
    video.write_image(tmp_path / "photo.png", spec.with_(seed=3).frame(0))
    code, _, err = cli("animate", "--model", "liax", "--ckpt", tiny_liax_file, "--source", tmp_path / "photo.png",
                       "--driving", tmp_path / "drive.mp4", "--out", tmp_path / "o.mp4", "--crop", "liax", "--device", "cpu")
    assert code == 0, err
    line = next(ln for ln in err.splitlines() if ln.startswith("--crop liax"))
    x0, y0, x1, y1 = json.loads(line.split("driving square ")[1].replace("(", "[").replace(")", "]"))
    fx0, fy0, fx1, fy1 = spec.face_box(0)
    assert x1 - x0 == y1 - y0 and 0 <= x0 and x1 <= 480 and 0 <= y0 and y1 <= 270
    assert x0 <= fx0 and fx1 <= x1 and y0 <= fy0 + 4 and fy1 - 4 <= y1  # the face, with room above it
    assert video.probe(tmp_path / "o.mp4").frames == 2
