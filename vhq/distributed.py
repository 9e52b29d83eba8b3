"""Process-group helpers that are no-ops outside ``torchrun``.

The same command runs alone, on CPU in tests, or under ``torchrun --nproc_per_node N``: the rank
and world size come from the environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from vhq.errors import BadInput


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def info_from_env() -> DistInfo:
    return DistInfo(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def init(backend: str | None = None, timeout_s: float = 1800) -> DistInfo:
    """Join the process group when launched by torchrun; return this process's rank info."""
    di = info_from_env()
    if di.world_size > 1 and not dist.is_initialized():
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(di.local_rank)
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s))
    return di


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_gather_objects(obj) -> list:
    """Every rank's ``obj``, in rank order (a one-element list when not distributed)."""
    if not is_distributed():
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if is_distributed():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """The device to run on: None or ``"auto"`` is this rank's GPU when CUDA is available, else the CPU.

    A named device (``cpu``, ``cuda``, ``cuda:1`` …) is checked, so a typo or a missing GPU is one
    clear error before any work starts.
    """
    if name is None or name == "auto":
        if torch.cuda.is_available():
            pin_fp32()
            return torch.device("cuda", info_from_env().local_rank)
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise BadInput(f"--device {name!r} is not a valid device (try 'cpu', 'cuda' or 'cuda:0')") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"--device {name}: CUDA is not available on this machine", hint="use --device cpu")
    if device.type == "cuda":
        pin_fp32()
    return device


def pin_fp32() -> None:
    """float32 means float32 on CUDA too: no TF32 in matmuls or convolutions (PyTorch lets cuDNN use it by default).

    Scores and checkpoints then agree with the CPU to float32 rounding; mixed precision is asked
    for explicitly (``--amp bf16``).
    """
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
