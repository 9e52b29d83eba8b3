"""Read official LIA checkpoints and read/write vhq's own LIA checkpoint format, without running pickled code.

Files this module reads:

* **vhq format** (written by :func:`save_checkpoint`)::

      {"format": "vhq-lia", "version": 1,
       "config": {"size": 256, "style_dim": 512, "motion_dim": 20},   # plain types only
       "gen": <generator state_dict>, "dis": <discriminator state_dict>  (optional),
       ...any other plain entries (optimiser states, step, provenance)}

* **official** ``vox.pt`` / ``taichi.pt`` / ``ted.pt`` and training checkpoints: a dict with ``gen``
  and possibly ``dis``, ``g_optim``, ``d_optim`` and ``args`` (a pickled ``argparse.Namespace``).
  Only ``gen`` is required.
* a bare generator state_dict (keys ``enc.*`` / ``dec.*``).

Everything is loaded with ``torch.load(weights_only=True)``; the only class allowed beyond tensors and
plain containers is ``argparse.Namespace``. A file that needs any other class is refused.
"""

from __future__ import annotations

import argparse
import collections
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from lia.discriminator import Discriminator
from lia.generator import Generator
from vhq.errors import BadInput, OutputError
from vhq.io.files import atomic_path
from vhq.weights.convert import refused_global

FORMAT = "vhq-lia"
VERSION = 1
RESERVED_KEYS = ("format", "version", "config", "gen", "dis")
ALLOWED_GLOBALS = [argparse.Namespace]


@dataclass
class LiaCheckpoint:
    """A loaded checkpoint: state dicts plus the generator config, not yet turned into modules."""

    path: Path
    kind: str  # "vhq-lia", "official" or "state_dict"
    config: dict
    gen: dict[str, torch.Tensor]
    dis: dict[str, torch.Tensor] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def generator(self) -> Generator:
        """Build the generator and load its weights strictly (in eval mode)."""
        try:
            g = Generator.from_config(self.config)
        except (KeyError, TypeError, ValueError) as e:
            raise BadInput(f"{self.path}: unusable LIA config {self.config} ({e})") from None
        _load_strict(g, self.gen, self.path, "gen")
        return g.eval()

    def discriminator(self) -> Discriminator | None:
        if self.dis is None:
            return None
        d = Discriminator(discriminator_size(self.dis, self.path))
        _load_strict(d, self.dis, self.path, "dis")
        return d.eval()


def _load_strict(module: torch.nn.Module, state: Mapping[str, torch.Tensor], path: Path, what: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        detail = " ".join(str(e).split())
        raise BadInput(f"{path}: '{what}' does not match the LIA layout: {detail[:400]}") from None


def read_file(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True``, allowing ``argparse.Namespace`` and nothing else."""
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{p}: no such checkpoint file")
    try:
        with torch.serialization.safe_globals(ALLOWED_GLOBALS):
            return torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        code = refused_global(e)
        if code is None:
            raise BadInput(f"{p}: not a readable PyTorch checkpoint (corrupt or not written by torch.save)") from None
        raise BadInput(
            f"{p}: refused: the file contains code (unpickling it needs the Python object {code}); "
            "only tensors, plain containers and argparse.Namespace are allowed",
            hint="load only checkpoints you trust, or re-save the weights as a plain dict of tensors",
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as e:
        raise BadInput(f"{p}: not a readable PyTorch checkpoint ({e.__class__.__name__}: {str(e).splitlines()[0][:200]})") from None


def infer_config(gen: Mapping[str, torch.Tensor], path: str | os.PathLike = "checkpoint") -> dict:
    """Generator config from the shapes of its state_dict (size, style_dim, motion_dim)."""
    direction = gen.get("dec.direction.weight")
    if direction is None or direction.dim() != 2:
        raise BadInput(f"{path}: not a LIA generator state_dict (no dec.direction.weight)")
    levels = {int(m.group(1)) for k in gen if (m := re.match(r"dec\.to_flows\.(\d+)\.", k))}
    if not levels:
        raise BadInput(f"{path}: not a LIA generator state_dict (no dec.to_flows.* entries)")
    return {"size": 2 ** (len(levels) + 2), "style_dim": int(direction.shape[0]), "motion_dim": int(direction.shape[1])}


def discriminator_size(dis: Mapping[str, torch.Tensor], path: str | os.PathLike = "checkpoint") -> int:
    blocks = {int(m.group(1)) for k in dis if (m := re.match(r"convs\.(\d+)\.conv1\.", k))}
    if not blocks:
        raise BadInput(f"{path}: not a LIA discriminator state_dict (no convs.*.conv1 entries)")
    return 2 ** (len(blocks) + 2)


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> LiaCheckpoint:
    """Load a vhq, official or bare-state_dict LIA checkpoint (see the module docstring)."""
    p = Path(path)
    obj = read_file(p, map_location)
    if isinstance(obj, Mapping) and obj.get("format") == FORMAT:
        version = obj.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise BadInput(f"{p}: vhq-lia checkpoint version {version!r} is newer than this vhq reads ({VERSION})", hint="upgrade vhq")
        if not _is_state_dict(obj.get("gen")) or not isinstance(obj.get("config"), Mapping):
            raise BadInput(f"{p}: vhq-lia checkpoint without 'gen' state_dict or 'config'")
        extra = {k: v for k, v in obj.items() if k not in RESERVED_KEYS}
        return LiaCheckpoint(p, FORMAT, dict(obj["config"]), dict(obj["gen"]), obj.get("dis"), extra)
    if isinstance(obj, Mapping) and "gen" in obj:
        if not _is_state_dict(obj["gen"]):
            raise BadInput(f"{p}: 'gen' entry is not a state_dict")
        extra = {k: v for k, v in obj.items() if k not in ("gen", "dis")}
        if isinstance(extra.get("args"), argparse.Namespace):
            extra["args"] = plain_args(extra["args"])
        dis = obj.get("dis") if _is_state_dict(obj.get("dis")) else None
        return LiaCheckpoint(p, "official", infer_config(obj["gen"], p), dict(obj["gen"]), dis, extra)
    if _is_state_dict(obj) and any(k.startswith("dec.") for k in obj):
        return LiaCheckpoint(p, "state_dict", infer_config(obj, p), dict(obj))
    raise BadInput(f"{p}: not a LIA checkpoint (expected a vhq-lia file, an official file with a 'gen' entry, or a generator state_dict)")


def plain_args(args: argparse.Namespace) -> dict:
    """The official training arguments as a dict of plain values (anything else as its repr)."""
    return {k: v if isinstance(v, (bool, int, float, str, type(None))) else repr(v) for k, v in vars(args).items()}


def check_plain(obj: Any, where: str = "checkpoint") -> None:
    """Raise TypeError unless ``obj`` loads back with ``weights_only=True`` (tensors, numbers, strings, containers)."""
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_plain(v, f"{where}[{i}]")
        return
    if type(obj) in (dict, collections.OrderedDict):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"{where}: key {k!r} of type {type(k).__name__} is not a str or int")
            check_plain(v, f"{where}[{k!r}]")
        return
    raise TypeError(f"{where}: {type(obj).__name__} cannot be stored in a vhq-lia checkpoint; use plain dicts, lists, numbers, strings and tensors")


def _cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def save_checkpoint(
    path: str | os.PathLike,
    generator: Generator,
    discriminator: Discriminator | None = None,
    **extra: Any,
) -> Path:
    """Write a vhq-lia checkpoint atomically (temp file in the same folder, then ``os.replace``).

    ``extra`` holds further plain entries (optimiser state_dicts, step counters, provenance). Tensors
    are stored on the CPU.
    """
    clash = [k for k in extra if k in RESERVED_KEYS]
    if clash:
        raise TypeError(f"save_checkpoint: {clash} are reserved entries")
    obj: dict[str, Any] = {"format": FORMAT, "version": VERSION, "config": dict(generator.config), "gen": _cpu_state(generator)}
    if discriminator is not None:
        obj["dis"] = _cpu_state(discriminator)
    obj.update(extra)
    check_plain(obj)
    try:
        with atomic_path(path) as tmp:
            torch.save(obj, tmp)
    except RuntimeError as e:  # torch's zip writer reports a full disk or a size limit only this way
        raise OutputError(f"{path}: cannot write the checkpoint ({str(e).strip().splitlines()[-1][:200]})",
                          "free some space (or raise ulimit -f) and re-run; the previous checkpoint is intact") from None
    return Path(path)
