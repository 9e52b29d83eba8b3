"""`vhq train-lmdm` on periodic synthetic codes: it learns, keeps train-lia's run folder, resumes exactly after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import torch

from lia.lmdm.model import load_lmdm
from tests.lia.lmdm.conftest import TINY_ARGS

COMMON = [*TINY_ARGS, "--seq-len", "16", "--batch", "8", "--diffusion-steps", "100", "--ema", "0.9", "--device", "cpu"]


def only_run(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_loss_falls_on_periodic_motion_and_the_run_folder_is_complete(cli, periodic_motion, tmp_path):
    code, out, err = cli("train-lmdm", "--motion", periodic_motion, "--out", tmp_path / "runs", *COMMON, "--lr", "1e-3",
                         "--iters", 150, "--tick", 25, "--snap", 3, "--keep", 1)
    assert code == 0, err
    run = only_run(tmp_path / "runs")
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    losses = [s["Loss/eps"] for s in stats]
    assert [s["step"] for s in stats] == [25, 50, 75, 100, 125, 150]
    assert losses[0] > 0.6 and losses[-1] < 0.6 * losses[0], losses  # ε̂ = 0 at the start scores 1
    assert [p.name for p in run.glob("checkpoint-*.pt")] == ["checkpoint-0000150.pt"]
    assert out.strip().endswith("checkpoint-0000150.pt")
    options = json.loads((run / "training_options.json").read_text())
    assert options["lr"] == 1e-3 and options["seq_len"] == 16 and options["mult"] == [1, 2]
    assert "train-lmdm: 4 clips" in (run / "log.txt").read_text()
    raw = torch.load(run / "checkpoint-0000150.pt", weights_only=True)
    assert raw["step"] == 150 and raw["lia"]["sha256"] == "0" * 64 and "optim" in raw
    model = load_lmdm(run / "checkpoint-0000150.pt")
    assert model.seq_len == 16 and model.diffusion.steps == 100


def wait_for(path: Path, proc, timeout: float) -> None:
    t0 = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() - t0 < timeout, f"{path} did not appear"
        time.sleep(0.02)


def test_sigkill_then_resume_is_bitwise_exact(cli, periodic_motion, tmp_path, _isolated_cache, cli_env, vhq_process):
    args = ["--motion", periodic_motion, *COMMON, "--iters", 24, "--tick", 3, "--snap", 1, "--keep", 0, "--dropout", "0.1"]
    code, _, err = cli("train-lmdm", "--out", tmp_path / "straight", *args)
    assert code == 0, err
    reference = torch.load(only_run(tmp_path / "straight") / "checkpoint-0000024.pt", weights_only=True)

    out = tmp_path / "interrupted"
    env = cli_env(_isolated_cache)
    proc = vhq_process(["train-lmdm", "--out", out, *args], env)
    first = out / "00000-lmdm-motion-L16-b8"
    wait_for(first / "checkpoint-0000006.pt", proc, timeout=120)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (first / "checkpoint-0000024.pt").exists()
    # no temporary files left; the killed run's lease stays until the resume takes it over
    assert not [p for p in first.iterdir() if p.name.startswith(".") and not p.name.startswith(".vhq-writer.lease")]

    code, _, err = cli("train-lmdm", "--out", out, *args, "--resume", "latest")  # in-process: one thread, like the child
    assert code == 0, err
    second = out / "00001-lmdm-motion-L16-b8-resume"
    assert "resumed from" in (second / "log.txt").read_text()
    final = torch.load(second / "checkpoint-0000024.pt", weights_only=True)
    for part in ("model", "ema"):
        for k, v in reference[part].items():
            assert torch.equal(v, final[part][k]), f"{part}.{k} differs after resume"
    for i, st in reference["optim"]["state"].items():
        assert all(torch.equal(st[n], final["optim"]["state"][i][n]) for n in st)


def test_bad_motion_folders_give_one_line_errors(cli, periodic_motion, tmp_path):
    code, _, err = cli("train-lmdm", "--motion", tmp_path / "none", "--out", tmp_path / "r", *COMMON)
    assert code == 1 and "no such folder of motion codes" in err and "Traceback" not in err
    code, _, err = cli("train-lmdm", "--motion", periodic_motion, "--out", tmp_path / "r", *COMMON[:-4], "--seq-len", "128", "--device", "cpu")
    assert code == 1 and "no clip has the 128 frames" in err
    code, _, err = cli("train-lmdm", "--motion", periodic_motion, "--out", tmp_path / "r", *TINY_ARGS, "--seq-len", "15")
    assert code == 1 and "--seq-len 15: must be >= 2 and divisible by 2" in err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
