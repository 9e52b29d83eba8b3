"""File-format converters an entry declares (``WeightEntry.converter``), run once on import or fetch.

A converter is called with (entry, source file, destination temp path) and returns True when it
wrote the destination, False to import the source unchanged. Converters here know file formats,
not networks: mapping tensors onto a model's own keys is the model loader's job.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path

from vhq.errors import BadInput

# torch is imported where it is used: the registry (and so `vhq --help`) imports this module.

# The cached form of a TorchScript file: its tensors and the eps its BatchNorm calls use.
TORCHSCRIPT_EXPORT = "vhq-torchscript-export-1"


def is_torchscript_archive(path: Path) -> bool:
    """A TorchScript zip (``code/`` and ``constants.pkl`` entries): executable, never loaded as weights."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    return any(n.endswith("/constants.pkl") or "/code/" in n for n in names)


def refused_global(error: Exception) -> str | None:
    """The Python object a ``weights_only`` load refused to import (code in the file), if that was the failure."""
    found = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", str(error))
    return found.group(1) if found else None


def load_plain(path: Path):
    """``torch.load(weights_only=True)``; a TorchScript archive or an unreadable file is a BadInput."""
    # torch.load hands TorchScript archives to torch.jit.load even with weights_only=True.
    if is_torchscript_archive(path):
        raise BadInput(f"{path}: is a TorchScript archive, not a state dict", "convert it with: vhq weights import i3d_torchscript FILE")
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        code = refused_global(e)
        if code is not None:
            raise BadInput(f"{path}: refused: the file contains code (unpickling it would call {code}); weights are tensors only",
                           "load only files you trust; re-save the weights as a plain dict of tensors") from None
        raise BadInput(f"{path}: not a readable PyTorch weight file (corrupt or not written by torch.save)") from None
    except Exception as e:  # noqa: BLE001 - any other unpickling failure means a bad file
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        raise BadInput(f"{path}: not a readable PyTorch weight file ({e.__class__.__name__}: {first})") from None


def _scripted_bn_eps(module) -> float | None:
    """The eps constant of the ``batch_norm`` call in a scripted BatchNorm module's own graph."""
    eps = getattr(module, "eps", None)
    if isinstance(eps, float):
        return eps
    try:
        nodes = module.graph.findAllNodes("aten::batch_norm")
    except Exception:  # noqa: BLE001 - not a scripted module with a graph
        return None
    if len(nodes) != 1:
        return None
    arg = list(nodes[0].inputs())[7]  # batch_norm(input, w, b, mean, var, training, momentum, eps, cudnn)
    value = arg.toIValue() if arg.node().kind() == "prim::Constant" else None
    return float(value) if isinstance(value, (float, int)) else None


def torchscript_export(entry, src: Path, dest: Path) -> bool:
    """TorchScript file → ``{"format", "tensors", "batchnorm_eps"}`` at ``dest`` (loads with weights_only=True).

    Loading TorchScript executes code from the file, so this happens once, on import; a plain
    state dict (e.g. exported on another machine) is imported unchanged.
    """
    if not is_torchscript_archive(src):
        if not isinstance(load_plain(src), dict):
            raise BadInput(f"{src}: neither a TorchScript module nor a state dict")
        return False
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scripted = torch.jit.load(str(src), map_location="cpu")
    except Exception as e:  # noqa: BLE001
        raise BadInput(f"{src}: neither a state dict nor a TorchScript module ({e.__class__.__name__}: {e})") from None
    tensors = {k: v.detach().clone() for k, v in scripted.state_dict().items()}
    eps = {name: e for name, module in scripted.named_modules() if (e := _scripted_bn_eps(module)) is not None}
    torch.save({"format": TORCHSCRIPT_EXPORT, "tensors": tensors, "batchnorm_eps": eps}, dest)
    return True
