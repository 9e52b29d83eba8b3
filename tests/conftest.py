"""Shared fixtures: every test gets an empty weights cache and one torch thread; helpers to run `vhq` in-process or as a process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

torch.set_num_threads(1)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """A temporary $VHQ_CACHE per test, and never the network (tests use 127.0.0.1 servers)."""
    cache = tmp_path_factory.mktemp("vhq-cache")
    monkeypatch.setenv("VHQ_CACHE", str(cache))
    monkeypatch.delenv("VHQ_OFFLINE", raising=False)
    monkeypatch.delenv("VHQ_WEIGHTS_MIRROR", raising=False)
    yield cache
    shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def synthetic_clip(tmp_path_factory):
    """A 2-second 320×180 synthetic face video (frame index in the background colour)."""
    from vhq.testing import synthetic

    spec = synthetic.SyntheticVideo(width=320, height=180, frames=50, fps=25.0)
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    synthetic.write_synthetic(path, spec)
    return path, spec


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``vhq ARGS`` in-process the way the console script does; return (exit code, out, err)."""
    from cli import main

    code = 0
    try:
        main(args)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cli(capsys):
    return lambda *args: run_cli([str(a) for a in args], capsys)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli_env(cache: Path, **extra: str) -> dict[str, str]:
    """The environment of a `vhq` child process: this checkout, one thread, quiet, not under torchrun."""
    env = dict(os.environ)
    env.update({
        "VHQ_CACHE": str(cache), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT),
        "VHQ_QUIET": "1",
    })
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    env.update(extra)
    return env


def _vhq_process(args: list, env: dict[str, str], **kw) -> subprocess.Popen:
    """``vhq ARGS`` in a new process (the console script's code path)."""
    return subprocess.Popen([sys.executable, "-m", "cli", *[str(a) for a in args]], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


@pytest.fixture(scope="session")
def free_port():
    """A function returning a free 127.0.0.1 TCP port."""
    return _free_port


@pytest.fixture(scope="session")
def cli_env():
    """A function (cache, **extra) -> environment for a `vhq` child process."""
    return _cli_env


@pytest.fixture(scope="session")
def vhq_process():
    """A function (args, env) -> Popen of `python -m cli ARGS` in this checkout."""
    return _vhq_process


if os.environ.get("VHQ_TEST_NETWORK_GUARD", "1") == "1":
    _real_connect = socket.socket.connect

    def _loopback_only(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("/"):
            raise OSError(f"tests may only connect to 127.0.0.1, not {host}")
        return _real_connect(self, address)

    socket.socket.connect = _loopback_only
