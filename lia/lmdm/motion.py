"""``vhq lia motion``: the LIA motion code α of every frame of every clip, for training an LMDM.

Layout of ``--out``::

    motion-<tag>-<NNNNN>.pt   a shard: {"format": "vhq-lia-motion", "version": 1,
                              "lia": {"sha256", "config", "file"},
                              "clips": {clip_id: float32 [frames, motion_dim]}, "fps": {clip_id: fps}}
    status[.K-of-N][.rankR].csv  per clip: ok / failed, the reason, frames, the shard holding it

``tag`` names the writer (``1-of-1``, ``2-of-4``, ``…-rank1``), so machines and ranks never write
the same file. Clips are buffered and written ``per_file`` at a time; a clip's row turns ``ok`` only
after its shard is on disk, so a killed run redoes just the unwritten clips. A folder holds the codes
of one LIA file: another checkpoint is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lia.animate import frames_to_input
from lia.generator import Generator
from lia.train.data import Clip
from vhq import console, distributed
from vhq.errors import BadInput, VhqError
from vhq.io import files, tables, video
from vhq.parallel import Shard, rank_slice

FORMAT = "vhq-lia-motion"
VERSION = 1
STATUS = "status"
STATUS_FIELDS = ("key", "status", "reason", "frames", "file", "lia_sha256", "updated")


def shard_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("motion-*.pt"))


def _read_shard(path: Path) -> dict:
    from lia.checkpoint import read_file

    obj = read_file(path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or not isinstance(obj.get("clips"), dict):
        raise BadInput(f"{path}: not a `vhq lia motion` shard")
    return obj


def read_motion(folder: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Every clip's codes ``{clip_id: [frames, D]}`` in ``folder`` and the LIA they came from."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{folder}: no such folder of motion codes", hint="write one with `vhq lia motion`")
    codes: dict[str, torch.Tensor] = {}
    lia: dict | None = None
    for path in shard_files(folder):
        obj = _read_shard(path)
        if lia is None:
            lia = dict(obj["lia"])
        elif obj["lia"].get("sha256") != lia.get("sha256"):
            raise BadInput(f"{path}: codes of another LIA checkpoint ({obj['lia'].get('sha256', '')[:12]} vs {lia.get('sha256', '')[:12]})")
        codes.update({k: v.float() for k, v in obj["clips"].items()})
    if lia is None:
        raise BadInput(f"{folder}: no motion-*.pt shards", hint="write them with `vhq lia motion`")
    return codes, lia


@torch.no_grad()
def clip_codes(generator: Generator, path: Path, batch: int) -> torch.Tensor:
    """α of every frame of one clip, float32 ``[frames, motion_dim]`` (frames resized to the model's size)."""
    device = next(generator.parameters()).device
    dtype = next(generator.parameters()).dtype
    out = [generator.encode_motion(frames_to_input(b, generator.size).to(device, dtype)).float().cpu()
           for b in video.iter_frames(path, batch_size=batch)]
    return torch.cat(out) if out else torch.zeros(0, generator.motion_dim)


def write_shard(path: Path, lia: dict[str, Any], clips: dict[str, torch.Tensor], fps: dict[str, float]) -> Path:
    """One shard file, atomically: ``clips`` ``{clip_id: [frames, D]}`` stored as float32."""
    obj = {"format": FORMAT, "version": VERSION, "lia": dict(lia), "clips": {k: v.float().contiguous() for k, v in clips.items()}, "fps": dict(fps)}
    with files.atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def _writer_tag(shard: Shard) -> str:
    tag = f"{shard.index}-of-{shard.count}"
    return tag + (f"-rank{distributed.rank()}" if distributed.world_size() > 1 else "")


def extract(clips: list[Clip], generator: Generator, lia: dict[str, Any], out: Path, *, shard: Shard = Shard(), batch: int = 32,
            per_file: int = 256) -> dict[str, int]:
    """Write the codes of this writer's clips not done yet; returns counts (done, reused, failed)."""
    out.mkdir(parents=True, exist_ok=True)
    for path in shard_files(out)[:1]:
        other = _read_shard(path)["lia"].get("sha256")
        if other != lia["sha256"]:
            raise BadInput(f"{out}: holds codes of another LIA checkpoint (sha256 {other[:12]}…, not {lia['sha256'][:12]}…)",
                           hint="use another --out for another checkpoint")
    previous = tables.read(out, STATUS, "key", STATUS_FIELDS)
    mine = rank_slice(shard.select(clips, key=lambda c: c.clip_id), distributed.rank(), distributed.world_size())
    present = {p.name for p in shard_files(out)}
    todo = [c for c in mine if not (previous.get(c.clip_id, {}).get("status") == "ok" and previous[c.clip_id].get("file") in present
                                   and previous[c.clip_id].get("lia_sha256") == lia["sha256"])]
    counts = {"done": 0, "reused": len(mine) - len(todo), "failed": 0}
    tag = _writer_tag(shard)
    taken = [int(p.stem.rsplit("-", 1)[1]) for p in out.glob(f"motion-{tag}-*.pt") if p.stem.rsplit("-", 1)[1].isdigit()]
    index = max(taken, default=-1) + 1
    status_file = tables.table_path(out, STATUS, shard, distributed.rank(), distributed.world_size())
    buffer: dict[str, torch.Tensor] = {}
    fps: dict[str, float] = {}

    def flush(table: tables.Table) -> None:
        nonlocal index
        if not buffer:
            return
        name = write_shard(out / f"motion-{tag}-{index:05d}.pt", lia, buffer, fps).name
        for key, codes in buffer.items():
            table.put({"key": key, "status": "ok", "reason": "", "frames": codes.shape[0], "file": name, "lia_sha256": lia["sha256"]})
        counts["done"] += len(buffer)
        buffer.clear()
        fps.clear()
        index += 1

    with tables.Table(status_file, "key", STATUS_FIELDS, tables.read_table(status_file, "key", STATUS_FIELDS)) as table:
        for clip in console.progress(todo, total=len(todo), desc="lia motion"):
            try:
                codes = clip_codes(generator, clip.path, batch)
                if codes.shape[0] == 0:
                    raise BadInput(f"{clip.path}: no frames")
            except VhqError as e:
                table.put({"key": clip.clip_id, "status": "failed", "reason": e.message, "frames": "", "file": "", "lia_sha256": lia["sha256"]})
                counts["failed"] += 1
                continue
            buffer[clip.clip_id] = codes
            fps[clip.clip_id] = float(video.probe(clip.path).fps or video.DEFAULT_FOLDER_FPS)
            if len(buffer) >= per_file:
                flush(table)
        flush(table)
    return counts


def lia_identity(path: Path, config: dict) -> dict:
    return {"sha256": files.sha256_file(path), "config": dict(config), "file": path.name}
