"""The command functions, through a small Typer app as the top-level CLI registers them."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

from lia import Discriminator, Generator, load_checkpoint, save_checkpoint
from lia.animate import reference
from lia.cli import animate_command, lia_app
from vhq.errors import BadInput
from vhq.io import files, video

SIZE = 64


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("animate")(animate_command)
    app.add_typer(lia_app, name="lia")
    return app


@pytest.fixture(scope="module")
def run(app):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, astronaut128, driving128, resize_photo):
    """A size-64 checkpoint, a source PNG and a 4-frame driving mp4 at 10 fps."""
    root = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    generator = Generator(SIZE).eval()
    save_checkpoint(root / "lia64.pt", generator)
    video.write_image(root / "source.png", resize_photo(astronaut128.numpy(), SIZE))
    video.write_video(root / "driving.mp4", torch.stack([resize_photo(f.numpy(), SIZE) for f in driving128[:4]]), fps=10)
    return root


def test_animate_writes_a_side_by_side_video(run, workdir):
    out = workdir / "out_sbs.mp4"
    result = run("animate", "--ckpt", workdir / "lia64.pt", "--source", workdir / "source.png", "--driving", workdir / "driving.mp4",
                 "--out", out, "--batch", "3", "--device", "cpu", "--side-by-side")
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout
    info = video.probe(out)
    assert (info.frames, info.width, info.height, info.fps) == (4, 3 * SIZE, SIZE, 10.0)
    first = next(video.iter_frames(out, batch_size=1))[0]
    source = video.read_image(workdir / "source.png")
    assert (first[:, :SIZE].float() - source.float()).abs().mean() < 8  # left panel is the source (lossy mp4)


def test_animate_absolute_mode_writes_model_size_frames(run, workdir):
    out = workdir / "out_abs.mp4"
    result = run("animate", "--ckpt", workdir / "lia64.pt", "--source", workdir / "source.png", "--driving", workdir / "driving.mp4",
                 "--out", out, "--mode", "absolute", "--device", "cpu")
    assert result.exit_code == 0, result.output
    info = video.probe(out)
    assert (info.frames, info.width, info.height) == (4, SIZE, SIZE)


def test_animate_reports_bad_inputs_naming_the_file(run, workdir):
    common = ["--source", workdir / "source.png", "--driving", workdir / "driving.mp4", "--out", workdir / "x.mp4", "--device", "cpu"]
    result = run("animate", "--ckpt", workdir / "lia64.pt", "--size", "256", *common)
    assert isinstance(result.exception, BadInput) and "lia64.pt" in result.exception.message and "--size 256" in result.exception.message
    (workdir / "junk.pt").write_bytes(b"\x00" * 64)
    result = run("animate", "--ckpt", workdir / "junk.pt", *common)
    assert isinstance(result.exception, BadInput) and "junk.pt" in result.exception.message
    assert not (workdir / "x.mp4").exists()
    result = run("animate", "--ckpt", workdir / "missing.pt", *common)
    assert result.exit_code == 2 and "missing.pt" in result.output


def test_convert_official_checkpoint(run, tmp_path):
    torch.manual_seed(1)
    g, d = Generator(32), Discriminator(32)
    official = tmp_path / "vox.pt"
    args = argparse.Namespace(size=32, latent_dim_style=512, latent_dim_motion=20, channel_multiplier=1)
    torch.save({"gen": g.state_dict(), "dis": d.state_dict(), "g_optim": {}, "d_optim": {}, "args": args}, official)
    result = run("lia", "convert", official, tmp_path / "vox-vhq.pt")
    assert result.exit_code == 0, result.output
    raw = torch.load(tmp_path / "vox-vhq.pt", weights_only=True)
    assert raw["format"] == "vhq-lia" and raw["config"]["size"] == 32
    assert raw["source"]["sha256"] == files.sha256_file(official) and raw["source"]["args"]["latent_dim_motion"] == 20
    assert all(torch.equal(raw["gen"][k], v) for k, v in g.state_dict().items()) and "dis" in raw
    result = run("lia", "convert", official, tmp_path / "gen-only.pt", "--no-dis")
    assert result.exit_code == 0 and load_checkpoint(tmp_path / "gen-only.pt").dis is None


def test_reference_writes_the_reference_image(run, workdir):
    out = workdir / "ref.png"
    result = run("lia", "reference", "--ckpt", workdir / "lia64.pt", "--source", workdir / "source.png", "--out", out, "--device", "cpu")
    assert result.exit_code == 0, result.output
    generator = load_checkpoint(workdir / "lia64.pt").generator()
    assert torch.equal(video.read_image(out), reference(generator, video.read_image(workdir / "source.png")))


def test_directions_writes_one_clip_per_direction_and_a_grid(run, workdir):
    out = workdir / "dirs"
    result = run("lia", "directions", "--ckpt", workdir / "lia64.pt", "--source", workdir / "source.png", "--out", out,
                 "--index", "0", "--index", "7", "--steps", "4", "--range", "2", "--grid-columns", "3", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["direction_00.mp4", "direction_07.mp4", "grid.png", "walk.json"]
    assert video.probe(out / "direction_07.mp4").frames == 4
    assert video.read_image(out / "grid.png").shape == (2 * SIZE, 3 * SIZE, 3)
    walk = json.loads((out / "walk.json").read_text())
    assert walk["directions"] == [0, 7] and walk["values"][0] == -2.0 and walk["values"][-1] == 2.0 and len(walk["grid_values"]) == 3
    result = run("lia", "directions", "--ckpt", workdir / "lia64.pt", "--source", workdir / "source.png", "--out", workdir / "bad",
                 "--index", "20", "--device", "cpu")
    assert isinstance(result.exception, BadInput) and "--index 20" in result.exception.message
    assert not (workdir / "bad").exists()


def test_the_lia_commands_import_without_torch():
    """`vhq --help` lists these commands; loading torch for that would take seconds."""
    root = Path(__file__).resolve().parents[2]
    code = "import sys, lia.cli, lia.train.cli; print(sorted(m for m in ('torch', 'lia.generator', 'lia.train.loop') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
