"""Training checkpoints: a vhq-lia checkpoint plus everything an exact resume needs.

``checkpoint-<step>.pt`` (written atomically by rank 0, the last ``keep`` kept) holds, beside the
generator/discriminator state dicts and the generator config of every vhq-lia file:

* ``g_optim``, ``d_optim``: Adam state dicts; ``scaler_g``/``scaler_d`` (fp16 only); ``gen_ema`` (EMA on);
* ``step`` (optimiser steps done) and ``images`` (training images seen);
* ``rng``: one entry per rank with its torch (and CUDA), NumPy and Python RNG states as tensors;
* ``options``: the resolved training options (plain dict), ``perceptual`` (``vgg19`` or ``none``)
  and ``data_fingerprint``.

Everything loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vhq import distributed
from vhq.errors import BadInput

from lia.checkpoint import load_checkpoint

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)\.pt$")
RUN_RE = re.compile(r"^(\d{5})-")


def checkpoint_name(step: int) -> str:
    return f"checkpoint-{step:07d}.pt"


def rng_state(device: torch.device) -> dict[str, Any]:
    """This process's RNG states, as tensors and numbers only."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, py_state, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_pos": int(pos),
        "numpy_has_gauss": int(has_gauss),
        "numpy_cached": float(cached),
        "python_version": int(version),
        "python_state": torch.tensor(py_state, dtype=torch.int64),
        "python_gauss": gauss_next,
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], state["numpy_has_gauss"], state["numpy_cached"]))
    random.setstate((state["python_version"], tuple(int(v) for v in state["python_state"].tolist()), state["python_gauss"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def gather_rng_states(device: torch.device) -> list[dict[str, Any]]:
    """Every rank's RNG states, in rank order (a collective: call on all ranks)."""
    return distributed.all_gather_objects(rng_state(device))


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    out = []
    if run_dir.is_dir():
        for p in run_dir.iterdir():
            m = CHECKPOINT_RE.match(p.name)
            if m:
                out.append((int(m.group(1)), p))
    return sorted(out)


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints of ``run_dir`` (``keep <= 0`` keeps all)."""
    if keep <= 0:
        return
    for _, p in list_checkpoints(run_dir)[:-keep]:
        p.unlink(missing_ok=True)


def find_latest(runs: Path) -> Path:
    """The newest checkpoint of the newest run under ``runs`` that has one."""
    dirs = sorted((p for p in runs.iterdir() if p.is_dir() and RUN_RE.match(p.name)), key=lambda p: p.name, reverse=True) if runs.is_dir() else []
    for d in dirs:
        ckpts = list_checkpoints(d)
        if ckpts:
            return ckpts[-1][1]
    raise BadInput(f"--resume latest: no checkpoint-*.pt in any run folder under {runs}", hint="start a new run without --resume, or pass --resume PATH")


def load_training_state(path: Path) -> dict[str, Any]:
    """A training checkpoint as a dict (``gen``, ``dis``, ``config`` and the entries above)."""
    ckpt = load_checkpoint(path)
    if ckpt.kind != "vhq-lia" or "step" not in ckpt.extra or ckpt.dis is None:
        raise BadInput(
            f"{path}: not a vhq train-lia checkpoint (no discriminator, optimiser states or step)",
            hint="use --init-from to start from released or converted weights",
        )
    return {"config": ckpt.config, "gen": ckpt.gen, "dis": ckpt.dis, **ckpt.extra}
