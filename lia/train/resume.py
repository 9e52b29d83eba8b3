"""Resuming a training run: finding its checkpoint, writing and reading the training state, restoring it.

The loop calls :func:`save` every ``--snap`` ticks and, with ``--resume``, :func:`restore` before
training (``vhq train-lia --resume latest`` finds the checkpoint with :func:`resume_checkpoint`);
without a checkpoint whose RNG states fit, :func:`seed_rngs` seeds every rank.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lia.checkpoint import load_checkpoint, save_checkpoint
from lia.generator import normalized_config
from lia.train.rundir import RUN_RE
from vhq import distributed
from vhq.errors import BadInput

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)\.pt$")
# Changes between the checkpoint's run and this one that the resume line reports.
NOTED_OPTIONS = ("batch", "batch_gpu", "seed", "perceptual", "augment")


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


def resume_checkpoint(resume: str, runs: Path) -> Path:
    """The checkpoint ``--resume`` names: a file, or ``latest`` (see :func:`find_latest`)."""
    path = find_latest(runs) if resume == "latest" else Path(resume)
    if not path.is_file():
        raise BadInput(f"--resume {resume}: no such checkpoint file")
    return path


def load_training_state(path: Path) -> dict[str, Any]:
    """A training checkpoint as a dict (``gen``, ``dis``, ``config`` and the entries above)."""
    ckpt = load_checkpoint(path)
    if ckpt.kind != "vhq-lia" or "step" not in ckpt.extra or ckpt.dis is None:
        raise BadInput(
            f"{path}: not a vhq train-lia checkpoint (no discriminator, optimiser states or step)",
            hint="use --init-from to start from released or converted weights",
        )
    return {"config": ckpt.config, "gen": ckpt.gen, "dis": ckpt.dis, **ckpt.extra}


def save(run_dir: Path | None, phases, *, step: int, batch: int, keep: int, options: dict[str, Any], perceptual: str, fingerprint: str) -> Path | None:
    """Write ``checkpoint-<step>.pt`` into ``run_dir``, keep the newest ``keep`` and return its path.

    A collective (every rank's RNG states are gathered): call it on every rank; only the rank given
    a ``run_dir`` (rank 0) writes. ``phases`` is the loop's :class:`lia.train.loop.Phases` (G, D,
    their optimisers and gradient scalers, the EMA generator).
    """
    rngs = gather_rng_states(phases.device)
    path = None
    if run_dir is not None:
        state = {
            "g_optim": phases.g_opt.state_dict(), "d_optim": phases.d_opt.state_dict(),
            "step": step, "images": step * batch, "rng": rngs,
            "options": options, "perceptual": perceptual, "data_fingerprint": fingerprint,
            "gen_ema": {k: v.detach().cpu() for k, v in phases.ema.state_dict().items()} if phases.ema is not None else None,
            "scaler_g": phases.scaler_g.state_dict() if phases.scaler_g.is_enabled() else None,
            "scaler_d": phases.scaler_d.state_dict() if phases.scaler_d.is_enabled() else None,
        }
        path = save_checkpoint(run_dir / checkpoint_name(step), phases.G, phases.D, **state)
        prune_checkpoints(run_dir, keep)
    distributed.barrier()
    return path


@dataclass(frozen=True)
class Resumed:
    path: Path
    step: int  # optimiser steps already done
    rng_restored: bool  # this rank's RNG states came from the checkpoint
    notes: tuple[str, ...]  # how this run differs from the checkpoint's

    def line(self) -> str:
        return f"resumed from {self.path} at step {self.step}" + (f" ({'; '.join(self.notes)})" if self.notes else "")


def restore(path: str | Path, phases, *, options: dict[str, Any], fingerprint: str) -> Resumed:
    """Load a training checkpoint into the loop's models, optimisers, scalers and this rank's RNGs.

    Raises BadInput when the checkpoint's generator config differs from the models'. RNG states
    are restored only when the checkpoint has one per rank of this run.
    """
    state = load_training_state(Path(path))
    cfg, want = state["config"], phases.G.config
    if normalized_config(cfg) != phases.G.full_config:
        raise BadInput(f"--resume {path}: it was trained with {cfg}, not " + ", ".join(f"{k}={v}" for k, v in want.items()))
    phases.G.load_state_dict(state["gen"])
    phases.D.load_state_dict(state["dis"])
    phases.g_opt.load_state_dict(state["g_optim"])
    phases.d_opt.load_state_dict(state["d_optim"])
    if phases.ema is not None:
        phases.ema.load_state_dict(state["gen_ema"] if state.get("gen_ema") is not None else state["gen"])
    for name, scaler in (("scaler_g", phases.scaler_g), ("scaler_d", phases.scaler_d)):
        if state.get(name) and scaler.is_enabled():
            scaler.load_state_dict(state[name])
    world = distributed.world_size()
    rngs = state.get("rng") or []
    if len(rngs) == world:
        set_rng_state(rngs[distributed.rank()], phases.device)
    old = state.get("options") or {}
    notes = [f"{k} {old.get(k)!r} -> {options.get(k)!r}" for k in NOTED_OPTIONS if k in old and k in options and old.get(k) != options.get(k)]
    if state.get("data_fingerprint") not in (None, fingerprint):
        notes.append("the clip list changed")
    if len(rngs) != world:
        notes.append(f"{len(rngs)} -> {world} processes (RNG states reseeded)")
    return Resumed(Path(path), int(state["step"]), len(rngs) == world, tuple(notes))


def seed_rngs(seed: int) -> None:
    """Seed this rank's torch, NumPy and Python RNGs with ``seed·W + rank`` (a fresh start)."""
    value = seed * distributed.world_size() + distributed.rank()
    torch.manual_seed(value)
    np.random.seed(value % 2**32)
    random.seed(value)
