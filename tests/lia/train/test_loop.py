"""`vhq train-lia` end to end on CPU at size 128: learning, run folder, exact resume after SIGKILL, errors."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import torch

from vhq.io import files, video
from vhq.testing.random_weights import write_random_vgg19
from vhq.testing.synthetic import write_clips

COMMON = ["--size", "128", "--batch", "1", "--samples", "1"]


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """A `vhq split`-style folder: train.csv (one clip) and test.csv (another clip)."""
    root = tmp_path_factory.mktemp("split")
    clips = write_clips(root / "clips", count=2, frames=10)
    for name, clip in (("train", clips[0]), ("test", clips[1])):
        files.write_csv(root / f"{name}.csv", [{"clip_id": clip.stem, "path": f"clips/{clip.name}", "frames": "10"}], ["clip_id", "path", "frames"])
    return root


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    return write_random_vgg19(tmp_path_factory.mktemp("vgg") / "vgg19-dcbb9e9d.pth")


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def read_stats(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


def only_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


@pytest.mark.slow
def test_training_lowers_the_reconstruction_loss(cli, split, vgg_file, tmp_path):
    import torchvision

    from vhq import weights

    weights.import_file("vgg19", vgg_file, no_verify=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), tmp_path / "alexnet-owt-7be5be79.pth")
    weights.import_file("alexnet", tmp_path / "alexnet-owt-7be5be79.pth", no_verify=True)
    out = tmp_path / "runs"
    code, stdout, err = cli("train-lia", "--data", split, "--out", out, *COMMON, "--iters", 4, "--tick-kimg", 0.002,
                            "--workers", 0, "--eval-every", 2, "--eval-clips", 1, "--eval-frames", 2)
    assert code == 0, err
    run = only_run(out)
    assert run.name == f"00000-lia128-{split.name}-b1"
    stats = read_stats(run)
    assert [s["step"] for s in stats] == [2, 4]
    assert stats[-1]["Loss/G/l1"] < 0.8 * stats[0]["Loss/G/l1"], stats
    assert stats[0]["Loss/G/vgg"] > 0 and "Metrics/lpips" in stats[-1] and 0 < stats[-1]["Metrics/l1"] < 1
    options = json.loads((run / "training_options.json").read_text())
    assert options["perceptual"] == "vgg19" and options["batch"] == 1 and options["eval_data"].endswith("test.csv")
    log = (run / "log.txt").read_text()
    assert "tick 2 step 4 kimg 0.004" in log and "g_l1" in log and "sec_per_kimg" in log and "cpumem_peak_gb" in log
    grid = video.read_image(run / "samples-0000004.png")
    assert tuple(grid.shape) == (128, 3 * 128, 3)
    ckpt = load(run / "checkpoint-0000004.pt")
    assert stdout.strip() == str(run / "checkpoint-0000004.pt")
    assert ckpt["format"] == "vhq-lia" and ckpt["step"] == 4 and ckpt["perceptual"] == "vgg19"
    assert isinstance(ckpt["rng"][0]["torch"], torch.Tensor) and ckpt["options"]["size"] == 128
    from lia import load_checkpoint

    assert load_checkpoint(run / "checkpoint-0000004.pt").generator().size == 128


def wait_for(path: Path, proc, timeout: float) -> None:
    t0 = time.time()
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"run ended before {path.name} appeared: {proc.stderr.read()}")
        if time.time() - t0 > timeout:
            proc.kill()
            raise AssertionError(f"{path.name} did not appear within {timeout}s")
        time.sleep(0.2)


@pytest.mark.slow
def test_sigkill_mid_tick_then_resume_is_bitwise_exact(cli, split, tmp_path, _isolated_cache, cli_env, vhq_process):
    args = ["--data", split, *COMMON, "--iters", 3, "--tick-kimg", 0.002, "--snap", 1, "--workers", 1, "--perceptual", "none"]
    code, _, err = cli("train-lia", "--out", tmp_path / "straight", *args)
    assert code == 0, err
    reference = load(only_run(tmp_path / "straight") / "checkpoint-0000003.pt")

    out = tmp_path / "interrupted"
    env = cli_env(_isolated_cache)
    proc = vhq_process(["train-lia", "--out", out, *args], env)
    first = out / f"00000-lia128-{split.name}-b1"
    wait_for(first / "checkpoint-0000002.pt", proc, timeout=400)
    time.sleep(2.0)  # into the next tick: its data is loading or step 3 is running
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not (first / "checkpoint-0000003.pt").exists()
    assert [p.name for p in first.glob("*.pt")] == ["checkpoint-0000002.pt"]  # no stray temporary files

    resumed = vhq_process(["train-lia", "--out", out, *args, "--resume", "latest"], env)
    stdout, stderr = resumed.communicate(timeout=400)
    assert resumed.returncode == 0, stderr
    second = out / f"00001-lia128-{split.name}-b1-resume"
    assert "resumed from" in (second / "log.txt").read_text()
    final = load(second / "checkpoint-0000003.pt")
    for part in ("gen", "dis"):
        for k, v in reference[part].items():
            assert torch.equal(v, final[part][k]), f"{part}.{k} differs after resume"
    for opt in ("g_optim", "d_optim"):
        for i, st in reference[opt]["state"].items():
            assert all(torch.equal(st[n], final[opt]["state"][i][n]) for n in st)
    assert final["perceptual"] == "none" and final["options"]["perceptual"] == "none"
    assert json.loads((second / "training_options.json").read_text())["resume"].endswith("checkpoint-0000002.pt")


def test_missing_vgg_weights_fail_before_anything_is_written(cli, split, tmp_path):
    code, _, err = cli("train-lia", "--data", split, "--out", tmp_path / "runs", *COMMON, "--iters", 1)
    assert code == 1
    assert "vgg19" in err and "vhq weights fetch vgg19" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_bad_datasets_and_options_give_one_line_errors(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = cli("train-lia", "--data", tmp_path / "empty", "--out", tmp_path / "runs", "--perceptual", "none")
    assert code == 1 and "no training clips" in err and "Traceback" not in err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.mp4").write_bytes(b"not a video")
    code, _, err = cli("train-lia", "--data", tmp_path / "bad", "--out", tmp_path / "runs", "--perceptual", "none")
    assert code == 1 and "x.mp4" in err
    code, _, err = cli("train-lia", "--data", tmp_path / "bad", "--out", tmp_path / "runs", "--resume", "latest")
    assert code == 1 and "no checkpoint" in err
    write_clips(tmp_path / "ok", count=1, frames=4)
    code, _, err = cli("train-lia", "--data", tmp_path / "ok", "--out", tmp_path / "runs", "--perceptual", "none", "--batch", "6", "--batch-gpu", "4")
    assert code == 1 and "--batch 6" in err
    code, _, err = cli("train-lia", "--data", tmp_path / "ok", "--out", tmp_path / "runs", "--size", "64", "--iters", "1")
    assert code == 1 and "--size >= 128" in err
    code, _, err = cli("train-lia", "--data", tmp_path / "ok", "--out", tmp_path / "runs", "--eval-every", "1")
    assert code == 1 and "held-out" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_dry_run_prints_the_resolved_options(cli, split, tmp_path):
    code, out, err = cli("train-lia", "--data", split, "--out", tmp_path / "runs", "--dry-run", "--augment", "flip,jitter", "--perceptual", "none")
    assert code == 0, err
    opts = json.loads(out)
    assert opts["augment"] == ["flip", "jitter"] and opts["perceptual"] == "none" and opts["batch"] == 64
    assert opts["eval_data"].endswith("test.csv") and opts["world_size"] == 1
    assert not (tmp_path / "runs").exists()
