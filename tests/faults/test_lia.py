"""Fault cases of the LIA commands: outputs that cannot be written fail first, in one line, and leave nothing behind."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vhq.io import files
from vhq.testing.faults import Fault, another_writer, unwritable_folder
from vhq.testing.synthetic import write_clips

UNWRITABLE = unwritable_folder()
TRAIN = ["--size", "128", "--batch", "2", "--iters", "1", "--tick-kimg", "0.002", "--perceptual", "none", "--workers", "0"]


def _checkpoint(root: Path) -> Path:
    from lia import Generator, save_checkpoint

    torch.manual_seed(0)
    return save_checkpoint(root / "g.pt", Generator(64))


def _inputs(root: Path) -> tuple[Path, Path, Path]:
    clip = write_clips(root / "drv", count=1, frames=3, side=64)[0]
    img = root / "src.png"
    from vhq.io import video

    video.write_image(img, video.read_frames(clip, 0, 1)[0])
    return _checkpoint(root), img, clip


def animate(out_of: callable):
    def build(root: Path):
        ckpt, img, clip = _inputs(root)
        return ["animate", "--source", img, "--driving", clip, "--ckpt", ckpt, "--size", "64", "--out", out_of(root)]
    return build


def a_file(root: Path, name: str = "taken") -> Path:
    (root / name).write_bytes(b"a file the user keeps")
    return root / name


def train_data(root: Path) -> Path:
    clip = write_clips(root / "clips", count=1, frames=4, side=128)[0]
    files.write_csv(root / "train.csv", [{"clip_id": clip.stem, "path": f"clips/{clip.name}", "frames": "4"}], ["clip_id", "path", "frames"])
    return root


def _rerun_converts(root: Path) -> None:
    """After the limit is lifted the same command completes."""
    r = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "lia", "convert", root / "g.pt", root / "out" / "g-vhq.pt"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (root / "out" / "g-vhq.pt").stat().st_size > 1 << 20


CASES = [
    Fault("animate-out-under-a-file", animate(lambda r: a_file(r) / "out.mp4"), 1, r"^error: .*taken/out\.mp4: .*taken is a file, not a folder",
          unchanged=("taken",)),
    Fault("animate-out-is-a-folder", animate(lambda r: r / "drv"), 2, r"(Usage|Invalid value|is a directory)", unchanged=("drv",)),
    Fault("animate-out-into-missing-folders", animate(lambda r: r / "new" / "deeper" / "out.mp4"), 0, "",
          after=lambda r: (r / "new" / "deeper" / "out.mp4").is_file() or pytest.fail("no output")),
    Fault("directions-out-is-a-file", lambda r: ["lia", "directions", "--source", _inputs(r)[1], "--ckpt", _checkpoint(r), "--out", a_file(r)],
          2, r"^Usage: vhq lia directions", unchanged=("taken",)),
    Fault("convert-out-under-a-file", lambda r: ["lia", "convert", _checkpoint(r), a_file(r) / "x.pt"], 1, r"^error: .*is a file, not a folder",
          unchanged=("taken", "g.pt")),
    Fault("reference-out-under-a-file", lambda r: ["lia", "reference", "--source", _inputs(r)[1], "--ckpt", _checkpoint(r), "--out", a_file(r) / "x.png"],
          1, r"^error: .*is a file, not a folder", unchanged=("taken",)),
    Fault("train-lia-out-is-a-file", lambda r: ["train-lia", "--data", train_data(r), "--out", a_file(r), *TRAIN], 2, r"^Usage: vhq train-lia",
          unchanged=("taken",)),
    Fault("checkpoint-write-over-the-file-size-limit", lambda r: ["lia", "convert", _checkpoint(r), r / "out" / "g-vhq.pt"],
          1, r"^error: .*g-vhq\.pt: cannot write the checkpoint", file_size_limit=1 << 20, unchanged=("g.pt",),
          absent=("out/*",), after=_rerun_converts),
]
if UNWRITABLE is not None:
    CASES += [
        Fault("animate-out-in-an-unwritable-folder", animate(lambda r: UNWRITABLE / "vhq-out.mp4"), 1, r"^error: .*vhq-out\.mp4: cannot write in "),
        Fault("train-lia-out-in-an-unwritable-folder", lambda r: ["train-lia", "--data", train_data(r), "--out", UNWRITABLE / "vhq-runs", *TRAIN],
              1, r"^error: .*vhq-runs: cannot write in "),
    ]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_lia_fault(case, fault):
    fault(case)


def test_a_run_still_training_cannot_be_resumed_twice_and_a_killed_one_can(cli, tmp_path, cli_env, _isolated_cache):
    run = tmp_path / "runs" / "00000-x"
    run.mkdir(parents=True)
    (run / "checkpoint-0000001.pt").write_bytes(b"not a checkpoint")
    with another_writer(run, folder=True, env=cli_env(_isolated_cache)) as pid:
        code, _, err = cli("train-lia", "--data", train_data(tmp_path), "--out", tmp_path / "runs", *TRAIN, "--resume", "latest")
        assert code == 1 and err.splitlines()[0].startswith(f"error: {run}: training run is being written by pid {pid} on "), err
    time.sleep(0.1)
    code, _, err = cli("train-lia", "--data", tmp_path, "--out", tmp_path / "runs", *TRAIN, "--resume", "latest")
    assert code == 1 and "not a" in err.splitlines()[0] and "being written" not in err, err  # the lock was taken over; the fake file is refused
