"""benchmarks/gpu_check.py: its CPU rehearsal passes, a disagreement beyond a bound fails, no CUDA stops in one line."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
DRY_RUN_TIMEOUT_S = 420  # ~100 s on 2 idle cores; LIA's CPU training steps dominate


def load_script():
    spec = importlib.util.spec_from_file_location("benchmarks_gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def script_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="2", TMPDIR=str(tmp_path))
    env.pop("VHQ_QUIET", None)
    return env


def test_a_planted_disagreement_beyond_its_bound_fails_and_one_within_passes():
    g = load_script()
    header = "gpu_check: test"
    rates = g.Rates([("eval l1,lpips,aed, 64 px", "frames/s", 10.0, 2.0)])
    agreeing = [g.compare("l1", 0.1 + 5e-6, 0.1), g.compare("akd_fan2d", 3.4, 3.0), g.compare("fvd_i3d", 100.9, 100.0)]
    lines, code = g.verdict(rates, agreeing, "cuda", header, None, 1.0)
    assert code == 0 and lines[-1].startswith("PASS (3 agreement checks, 1 rates)")
    assert any(ln.startswith("eval l1,lpips,aed, 64 px") and ln.rstrip().endswith("5.0x") for ln in lines)

    planted = [g.compare("l1", 0.1 + 2e-5, 0.1), g.compare("akd_fan2d", 3.6, 3.0), g.compare("lpips_alex", 0.3, 0.3)]
    lines, code = g.verdict(rates, planted, "cuda", header, None, 1.0)
    assert code == 1 and lines[-1].startswith("FAIL (l1, akd_fan2d)")
    rows = {ln.split()[0]: ln.split()[-1] for ln in lines if ln.split() and ln.split()[0] in ("l1", "akd_fan2d", "lpips_alex")}
    assert rows == {"l1": "FAIL", "akd_fan2d": "FAIL", "lpips_alex": "ok"}

    assert not g.compare("aed_openface", math.nan, 0.01).ok
    lines, code = g.verdict(rates, agreeing, "cuda", header, "`eval` exited 1", 1.0)
    assert code == 1 and "error: `eval` exited 1" in lines and lines[-1].startswith("FAIL (a command failed)")
    assert g.verdict(g.Rates(), [], "cuda", header, None, 1.0)[1] == 1  # nothing compared is not a pass


def test_every_compared_name_has_a_stated_bound():
    g = load_script()
    assert set(g.TOLERANCES) == {"l1", "lpips_alex", "aed_openface", "akd_fan2d", "mkr_face_fan2d", "fvd_i3d", "animate"}
    assert all(reason for _, _, reason in g.TOLERANCES.values())


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_without_cuda_it_stops_in_one_line(tmp_path):
    p = subprocess.run([sys.executable, SCRIPT], cwd=tmp_path, env=script_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 1, p.stderr
    assert p.stdout.splitlines() == [p.stdout.strip()] and p.stdout.startswith("error: no CUDA device") and "--dry-run" in p.stdout
    assert p.stderr == ""


@pytest.mark.slow
def test_dry_run_runs_every_command_and_passes(tmp_path):
    keep = tmp_path / "work"
    p = subprocess.run([sys.executable, SCRIPT, "--dry-run", "--keep", keep], cwd=tmp_path, env=script_env(tmp_path),
                       capture_output=True, text=True, timeout=DRY_RUN_TIMEOUT_S, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("gpu_check --dry-run: device under test cpu") and lines[-1].startswith("PASS (5 agreement checks, 4 rates)")
    for stage in ("train-lia 32 px b1", "eval l1,lpips,aed, 64 px", "eval fvd_i3d, 2+2 clips x 16", "animate 32 px, 4 frames"):
        (row,) = [ln for ln in lines if ln.startswith(stage)]
        assert all(float(x) > 0 for x in row.split()[-3:-1]), row  # both rates parsed from the commands' progress lines
    agreement = lines[next(i for i, ln in enumerate(lines) if ln.startswith("agreement")) + 1 : -1]
    for name in ("l1", "lpips_alex", "aed_openface", "fvd_i3d", "animate"):
        (row,) = [ln for ln in agreement if ln.split()[:1] == [name]]
        assert row.endswith("ok"), row
    logs = sorted(f.stem for f in (keep / "logs").iterdir())
    assert logs == ["animate-cpu", "animate-device", "fvd-cpu", "fvd-device", "paired0-cpu", "paired0-device", "train-device", "train-torchrun"]
    assert "torch.distributed.run --standalone --nproc_per_node 1 -m cli train-lia" in (keep / "logs" / "train-torchrun.txt").read_text()


def test_train_checks_name_a_bad_checkpoint_or_loss(tmp_path, monkeypatch):
    """The checks on what train-lia wrote, fed a run folder in its real layout instead of a training process."""
    g = load_script()
    run_dir = tmp_path / "runs" / "00000-x"
    run_dir.mkdir(parents=True)
    ckpt = run_dir / "checkpoint-0000002.pt"
    ticks = [{"step": 1, "sec_per_tick": 9.0, "Loss/G/l1": float("nan")}, {"step": 2, "sec_per_tick": 2.0, "Loss/G/l1": 0.5}]
    monkeypatch.setattr(g, "run", lambda *a, **k: (f"{ckpt}\n", ""))

    def train(weights, stats):
        torch.save({"format": "vhq-lia", "step": 2, "gen": {"w": weights}, "dis": {"w": torch.zeros(2)}}, ckpt)
        (run_dir / "log.txt").write_text("train-lia: ... 1 process(es) x 1 round(s) x 2, ..., amp bf16, device cuda\n")
        (run_dir / "stats.jsonl").write_text("".join(json.dumps(t) + "\n" for t in stats))
        return g.train(dataclasses.replace(g.DRY, batch=2), {"clips": tmp_path},
                       tmp_path, {}, "cuda", steps=2, amp="bf16", name="x", tick_steps=1)

    good = [{**ticks[0], "Loss/G/l1": 0.7}, ticks[1]]
    rate, path = train(torch.ones(3), good)
    assert path == ckpt and rate == pytest.approx(2 / 2.0)  # the second tick: 1 step x batch 2 in 2 s
    with pytest.raises(g.CheckFailed, match="non-finite losses"):
        train(torch.ones(3), ticks)  # NaN at the first tick, finite at the last
    with pytest.raises(g.CheckFailed, match="non-finite weights in 1 tensors, e.g. w"):
        train(torch.tensor([1.0, float("inf")]), good)
    torch.save({"format": "vhq-lia", "step": 2, "gen": {}, "dis": {}, "code": Path("a-python-object")}, ckpt)
    with pytest.raises(g.CheckFailed, match="weights_only"):
        g.train(g.DRY, {"clips": tmp_path}, tmp_path, {}, "cuda", steps=2, amp="bf16", name="x", tick_steps=1)
