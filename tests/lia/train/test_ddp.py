"""Two gloo processes train exactly like one process (float64, global batch 8, 3 steps).

Rank r takes chunk r of each step's rank-strided positions; the single process takes the same two
chunks as two accumulation rounds of 4 (``--batch-gpu 4``), so the discriminator's minibatch-stddev
groups are the same four images in both runs. Size 32 with ``--perceptual none`` keeps the test
affordable on 2 cores and in memory (three float64 trainers at 64 px need ~5 GB each); nothing in
the distributed path depends on the resolution, and the VGG term is computed per image. The
single-process reference runs after the pair, not beside it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from vhq.testing.synthetic import write_clips

TIMEOUT_S = 600


@pytest.mark.slow
def test_two_processes_match_one_process(tmp_path, _isolated_cache, cli_env, free_port, vhq_process):
    write_clips(tmp_path / "clips", count=5, frames=8, side=48)
    args = ["train-lia", "--data", tmp_path / "clips", "--size", "32", "--batch", "8", "--iters", "3", "--dtype", "float64",
            "--perceptual", "none", "--workers", "0", "--tick-kimg", "1", "--samples", "1"]
    port = free_port()
    ddp = {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "GLOO_SOCKET_IFNAME": "lo"}
    pair = [vhq_process([*args, "--out", tmp_path / "ddp"], cli_env(_isolated_cache, RANK=str(r), LOCAL_RANK=str(r), **ddp)) for r in range(2)]
    finish(pair)
    finish([vhq_process([*args, "--out", tmp_path / "single", "--batch-gpu", "4"], cli_env(_isolated_cache))])
    (ddp_run,) = (tmp_path / "ddp").iterdir()
    (single_run,) = (tmp_path / "single").iterdir()
    assert "2 process(es) x 1 round(s) x 4" in (ddp_run / "log.txt").read_text()
    assert "1 process(es) x 2 round(s) x 4" in (single_run / "log.txt").read_text()
    a, b = load(ddp_run / "checkpoint-0000003.pt"), load(single_run / "checkpoint-0000003.pt")
    assert len(a["rng"]) == 2 and len(b["rng"]) == 1
    worst = 0.0
    for part in ("gen", "dis"):
        for k, v in a[part].items():
            assert v.dtype == torch.float64
            worst = max(worst, (v - b[part][k]).abs().max().item())
    assert worst <= 1e-10, worst
    # The parameters moved (the comparison is not between two untouched initialisations).
    moved = max((a["gen"][k] - v).abs().max().item() for k, v in load_initial_gen().items() if k in a["gen"])
    assert moved > 1e-4
    # Logged losses are reduced over ranks: the same numbers as the single process.
    sa = (ddp_run / "stats.jsonl").read_text().splitlines()[-1]
    sb = (single_run / "stats.jsonl").read_text().splitlines()[-1]
    import json

    la, lb = json.loads(sa), json.loads(sb)
    for k in ("Loss/G/l1", "Loss/D/total"):
        assert abs(la[k] - lb[k]) < 1e-9, (k, la[k], lb[k])


def load_initial_gen() -> dict:
    from lia import Generator

    torch.manual_seed(0)
    return {k: v.double() for k, v in Generator(32).state_dict().items()}


def finish(procs) -> None:
    try:
        results = [p.communicate(timeout=TIMEOUT_S) for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        raise
    for rank, (p, (_, err)) in enumerate(zip(procs, results)):
        assert p.returncode == 0, f"process {rank} exited with {p.returncode}: {err[-3000:]}"


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)
