"""Predictions: run a model on every job of a protocol, write its frames losslessly, record each.

``preds/<model>/<key>.mp4`` (H.264 lossless RGB) or ``preds/<model>/<key>/`` (PNG frames) per job,
and ``runs/<model>/status.csv`` (``vhq.io.tables``: one file per shard and rank, the newest row per
key winning) with ok / failed, the reason, the seconds taken and the model identity. A prediction
whose row is ``ok`` for the same model identity, format and job is kept on a re-run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from eval.bench.models import Model, to_uint8
from vhq import console, distributed
from vhq.errors import BadInput, VhqError
from vhq.io import files, tables, video
from vhq.parallel import Shard, rank_slice

STATUS = "status"
STATUS_FIELDS = ("key", "status", "reason", "frames", "seconds", "model_key", "format", "output", "updated")


@dataclass(frozen=True)
class Job:
    key: str  # output name: clip id (reconstruct) or pair id (cross)
    source: Path  # video whose first frame is the source image
    driving: Path
    frames: int  # driving frames used
    fps: float
    mode: str  # absolute | relative


def status_path(run_dir: Path, shard: Shard) -> Path:
    return tables.table_path(run_dir, STATUS, shard, distributed.rank(), distributed.world_size())


def read_status(run_dir: Path) -> dict[str, dict]:
    """Every status table of ``run_dir`` merged: job key → newest row."""
    return tables.read(run_dir, STATUS, "key", STATUS_FIELDS)


def pred_path(preds: Path, key: str, fmt: str) -> Path:
    return preds / (f"{key}.mp4" if fmt == "mp4" else key)


def _counted(batches, key: str, expected: int, out_size: list):
    n = 0
    for b in batches:
        b = to_uint8(b, f"clip {key}")
        if out_size and tuple(b.shape[1:3]) != out_size[0]:
            raise BadInput(f"clip {key}: the model changed the frame size from {out_size[0]} to {tuple(b.shape[1:3])}")
        out_size[:] = [tuple(b.shape[1:3])]
        n += b.shape[0]
        if n > expected:
            raise BadInput(f"clip {key}: the model produced more frames than the {expected} driving frames")
        yield b
    if n != expected:
        raise BadInput(f"clip {key}: the model produced {n} frame(s) for {expected} driving frames")


def write_prediction(dest: Path, batches, key: str, expected: int, fps: float, fmt: str) -> Path:
    """Write one clip's frames losslessly and atomically; the frame count must match."""
    size: list = []
    return video.write_lossless(dest, _counted(batches, key, expected, size), fps, fmt)


def _model_key(model: Model, fmt: str, job: Job) -> str:
    return files.sha256_strings([json.dumps(model.identity(), sort_keys=True), fmt, job.mode, str(job.frames), str(job.source), str(job.driving)])[:16]


def predict(model: Model, jobs: list[Job], preds: Path, run_dir: Path, fmt: str, shard: Shard) -> tuple[int, int]:
    """Run the model on every job it has not done yet; (done now, reused). Stops at the first failure."""
    preds.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    previous = read_status(run_dir)
    mine = rank_slice(shard.select(jobs, key=lambda j: j.key), distributed.rank(), distributed.world_size())
    todo, reused = [], 0
    for job in mine:
        prev = previous.get(job.key)
        dest = pred_path(preds, job.key, fmt)
        if prev and prev["status"] == "ok" and prev["model_key"] == _model_key(model, fmt, job) and dest.exists():
            reused += 1
        else:
            todo.append(job)
    status_file = status_path(run_dir, shard)
    staging_root = run_dir / ".staging"
    done = 0
    with tables.Table(status_file, "key", STATUS_FIELDS, tables.read_table(status_file, "key", STATUS_FIELDS)) as table:
        for job in console.progress(todo, total=len(todo), desc=f"predict {preds.name}"):
            dest = pred_path(preds, job.key, fmt)
            t0 = time.monotonic()
            row = {"key": job.key, "frames": job.frames, "model_key": _model_key(model, fmt, job), "format": fmt,
                   "output": os.path.relpath(dest, run_dir)}
            staging_root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f"{job.key}.", dir=staging_root)).resolve()
            try:
                source = video.read_frames(job.source, 0, 1)[0]
                batches = model.run(job.key, source, job.driving, job.frames, job.mode, staging)
                files.remove(pred_path(preds, job.key, "png" if fmt == "mp4" else "mp4"))  # one output per key
                write_prediction(dest, batches, job.key, job.frames, job.fps, fmt)
            except VhqError as e:
                table.put({**row, "status": "failed", "reason": e.message, "seconds": f"{time.monotonic() - t0:.2f}"})
                raise
            except Exception as e:
                if os.environ.get("VHQ_DEBUG") or model.kind in ("lia", "static", "gt"):
                    raise
                msg = f"clip {job.key}: the model raised {type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
                table.put({**row, "status": "failed", "reason": msg, "seconds": f"{time.monotonic() - t0:.2f}"})
                raise BadInput(msg, "VHQ_DEBUG=1 shows the traceback") from None
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            table.put({**row, "status": "ok", "reason": "", "seconds": f"{time.monotonic() - t0:.2f}"})
            done += 1
    if staging_root.exists() and not any(staging_root.iterdir()):
        staging_root.rmdir()
    return done, reused
