"""Two gloo processes (torchrun-style environment) give the single-process numbers to 1e-10."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vhq.io import files, video
from vhq.testing.synthetic import face_frames

ROOT = Path(__file__).resolve().parents[2]


def per_video_csv(out):
    """The one per-video CSV a run wrote into ``out`` (``per_video-<model>-<protocol>.csv``)."""
    (path,) = sorted(Path(out).glob("per_video-*.csv"))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _metrics() -> str:
    try:
        import dlib  # noqa: F401

        return "l1,lpips,aed,akd_dlib68,mkr_dlib68"
    except ImportError:
        return "l1,lpips,aed"


@pytest.mark.slow
def test_two_gloo_ranks_equal_one_process(cli, eval_weights, tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    for i in range(3):
        video.write_video(gt / f"v{i}.mp4", torch.from_numpy(face_frames(2 + i % 2, size=96, seed=i)), fps=25)
        video.write_video(pred / f"v{i}.mp4", torch.from_numpy(face_frames(2 + i % 2, size=96, seed=i + 3)), fps=25)
    args = ["eval", "--pred", str(pred), "--gt", str(gt), "--metrics", _metrics(), "--no-cache"]
    code, _, err = cli(*args, "--out", tmp_path / "single")
    assert code == 0, err

    port = _free_port()
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1", VHQ_QUIET="1",
                   PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="")
        code_txt = "import torch; torch.set_num_threads(1); from cli import main; main(%r)" % (args + ["--out", str(tmp_path / "ddp")])
        procs.append(subprocess.Popen([sys.executable, "-c", code_txt], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        for p in procs:
            _, perr = p.communicate(timeout=300)
            assert p.returncode == 0, perr
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()

    one = files.read_csv(per_video_csv(tmp_path / "single"))
    two = files.read_csv(per_video_csv(tmp_path / "ddp"))
    assert [r["key"] for r in two] == ["v0", "v1", "v2"] == [r["key"] for r in one]
    for a, b in zip(one, two):
        for k in a:
            if k != "key" and a[k] != "":
                assert float(b[k]) == pytest.approx(float(a[k]), abs=1e-10), k
    s1 = {r["metric"]: r for r in files.read_csv(tmp_path / "single" / "summary.csv")}
    s2 = {r["metric"]: r for r in files.read_csv(tmp_path / "ddp" / "summary.csv")}
    assert set(s1) == set(s2)
    for m in s1:
        if s1[m]["value"]:
            assert float(s2[m]["value"]) == pytest.approx(float(s1[m]["value"]), abs=1e-10), m
        assert (s2[m]["n_videos"], s2[m]["n_frames"]) == (s1[m]["n_videos"], s1[m]["n_frames"])
        assert s2[m]["testset_fingerprint"] == s1[m]["testset_fingerprint"]
