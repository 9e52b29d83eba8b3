"""The run directory of a training run and what is written into it while training.

``RUNS/<NNNNN>-<desc>/``: ``training_options.json`` (resolved options), ``log.txt`` (every status
line), ``stats.jsonl`` (one JSON object per tick), ``tb/`` (TensorBoard events: every numeric stat,
the learning rates and the sample grids, against training images seen), ``samples-<step>.png`` and
``checkpoint-<step>.pt``. Only rank 0 writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from vhq import console
from vhq.io import files

RUN_RE = re.compile(r"^(\d{5})-")
TB_FOLDER = "tb"
# stats.jsonl fields that are bookkeeping, not curves
NOT_PLOTTED = ("timestamp", "tick", "step", "kimg")


def new_run_dir(runs: Path, desc: str) -> Path:
    """Create ``runs/<next id>-<desc>`` (ids count up from the largest present)."""
    runs.mkdir(parents=True, exist_ok=True)
    ids = [int(m.group(1)) for p in runs.iterdir() if (m := RUN_RE.match(p.name))]
    run_id = max(ids, default=-1) + 1
    while True:
        d = runs / f"{run_id:05d}-{desc}"
        try:
            d.mkdir()
            return d
        except FileExistsError:
            run_id += 1


@contextlib.contextmanager
def leased_runs(runs: Path, desc: str, resume: Path | None) -> Iterator[Callable[[], Path]]:
    """While inside, the run being resumed is leased to this process (a run still training must not be
    continued twice at once); yields the function that makes this run's folder and leases it too.
    Only rank 0 makes folders and takes leases."""
    from vhq import distributed
    from vhq.io import lease

    with contextlib.ExitStack() as held:
        if resume is not None and distributed.rank() == 0:
            held.enter_context(lease.exclusive_writer(resume.parent, folder=True, what="training run"))

        def make() -> Path:
            made = new_run_dir(runs, desc)
            held.enter_context(lease.exclusive_writer(made, folder=True, what="training run"))
            return made

        yield make


def memory_gb(device: torch.device) -> dict[str, float]:
    """Peak resident memory of this process and, on CUDA, peak allocated device memory (GiB)."""
    out = {"cpumem_peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}
    if device.type == "cuda":
        out["gpumem_peak_gb"] = torch.cuda.max_memory_allocated(device) / 2**30
    return out


class RunLog:
    """Status lines to stderr and log.txt, stats to stats.jsonl (and TensorBoard); rank 0 only."""

    def __init__(self, run_dir: Path | None, total_steps: int, start_step: int, enabled: bool = True, label: str = "train-lia"):
        self.run_dir = run_dir
        self.enabled = enabled and run_dir is not None
        self.tb = None
        self.bar = None
        if not self.enabled:
            return
        self._log = open(run_dir / "log.txt", "a", encoding="utf-8")
        from torch.utils.tensorboard import SummaryWriter

        self.tb = SummaryWriter(str(run_dir / TB_FOLDER))
        if console.stderr.is_terminal and os.environ.get("VHQ_QUIET", "") != "1":
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=console.stderr)
            self.bar.start()
            self.task = self.bar.add_task(label, total=total_steps, completed=start_step)

    def line(self, text: str, to_console: bool = True) -> None:
        if not self.enabled:
            return
        self._log.write(text + "\n")
        self._log.flush()
        if to_console:
            if self.bar is not None:
                self.bar.console.print(text, markup=False, highlight=False)
            else:
                console.stderr.print(text, markup=False, highlight=False)

    def advance(self, step: int, description: str | None = None) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, **({"description": description} if description else {}))

    def stats(self, record: dict[str, Any], images: int, scalars: dict[str, float] | None = None, grid: torch.Tensor | None = None) -> None:
        """Append ``record`` to stats.jsonl; plot it, the extra ``scalars`` and the sample ``grid`` (uint8 HWC) at ``images``."""
        if not self.enabled:
            return
        record = {"timestamp": time.time(), **record}
        with open(self.run_dir / "stats.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=False) + "\n")
        if self.tb is not None:
            for k, v in {**record, **(scalars or {})}.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in NOT_PLOTTED:
                    self.tb.add_scalar(k, v, global_step=images)
            if grid is not None:
                self.tb.add_image("Samples/source_driving_reconstruction", grid.numpy(), global_step=images, dataformats="HWC")
            self.tb.flush()

    def write_options(self, options: dict[str, Any]) -> None:
        if self.enabled:
            files.write_json(self.run_dir / "training_options.json", options)

    def close(self) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.stop()
        if self.tb is not None:
            self.tb.close()
        self._log.close()


def status_line(fields: dict[str, Any]) -> str:
    """``name value`` pairs on one greppable line (floats shown with 4 significant digits)."""
    parts = []
    for k, v in fields.items():
        parts.append(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
    return " ".join(parts)
