"""Random-init weight files in the real checkpoint formats, built from key→shape manifests of the real files.

``data/*.json`` list the keys and shapes of the published I3D and 3D ResNeXt-101 files (and of
our modules), so tests can check our modules against the real layouts without the real weights.
``openface.json`` is the key layout of thnkim/OpenFacePytorch's ``openface.pth`` (the state dict of
its ``netOpenFace``; the 2017 file predates BatchNorm's ``num_batches_tracked`` counters).
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

import torch

DATA = Path(__file__).resolve().parent / "data"


def manifest(name: str) -> dict[str, list[int]]:
    return json.loads((DATA / f"{name}.json").read_text())


def random_state(shapes: dict[str, list[int]], seed: int = 0) -> "OrderedDict[str, torch.Tensor]":
    """Exactly the manifest's keys and shapes, as a plain dict (no ``_metadata``), He-scaled convs."""
    g = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(0, dtype=torch.int64)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith("running_mean") or key.endswith(".bias"):
            out[key] = torch.randn(shape, generator=g) * 0.1
        elif len(shape) == 1:  # BN scale
            out[key] = 1 + 0.1 * torch.randn(shape, generator=g)
        else:
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            out[key] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
    return out


def write_i3d_checkpoint(path: Path, seed: int = 0) -> Path:
    """``i3d_pretrained_400.pt``: a flat mapping, TF variable names mapped, no counters."""
    torch.save(random_state(manifest("i3d_pretrained_400.checkpoint"), seed), path)
    return path


def write_resnext_checkpoint(path: Path, seed: int = 0) -> Path:
    """``resnext-101-kinetics.pth``: Hara's training checkpoint dict, DataParallel prefixes."""
    state = random_state(manifest("resnext101_kinetics.checkpoint"), seed)
    torch.save({"epoch": 200, "arch": "resnext-101", "state_dict": state, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]}}, path)
    return path


def real_weight_file(name: str, filename: str) -> Path | None:
    """A real weight file from the user's own cache (not the per-test one), if it is there.

    ``VHQ_REAL_CACHE`` overrides the location (default ``${XDG_CACHE_HOME:-~/.cache}/vhq``).
    """
    root = os.environ.get("VHQ_REAL_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vhq")
    p = Path(root) / "weights" / filename
    return p if p.is_file() else None


# Files in the formats their publishers ship, random-init, for the paired-metric backbones.
WEIGHT_FILES = {
    "alexnet": "alexnet-owt-7be5be79.pth",
    "fan2d": "2DFAN4-11f355bf06.pth.tar",
    "s3fd": "s3fd-619a316812.pth",
    "facenet_vggface2": "20180402-114759-vggface2.pt",
    "openface": "openface.pth",
}


def write_openface_checkpoint(path: Path, seed: int = 0) -> Path:
    """``openface.pth``: a flat state dict in the pre-1.6 (non-zip) serialisation the 2017 file uses."""
    torch.save(random_state(manifest("openface"), seed), path, _use_new_zipfile_serialization=False)
    return path


def make_weight_file(name: str, folder: Path, seed: int = 0) -> Path:
    """A random-init network of the real architecture saved in its published file format."""
    if name == "openface":
        return write_openface_checkpoint(folder / WEIGHT_FILES[name], seed)
    torch.manual_seed(seed)
    if name == "alexnet":
        import torchvision

        sd = torchvision.models.alexnet(weights=None).state_dict()
    elif name == "fan2d":
        from face_alignment.models import FAN

        sd = FAN(4).state_dict()
    elif name == "s3fd":
        from face_alignment.detection.sfd.net_s3fd import s3fd

        sd = s3fd().state_dict()
    else:
        from facenet_pytorch import InceptionResnetV1

        sd = InceptionResnetV1(num_classes=8631).state_dict()
    path = folder / WEIGHT_FILES[name]
    torch.save(sd, path)
    return path


def write_random_vgg19(path: Path) -> Path:
    """torchvision's VGG19 state dict (every key, classifier included) with random-init weights."""
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.vgg19(weights=None).state_dict(), path)
    return path


VIDEOMAE_FULL = {"dim": 1408, "qkv": 4224, "hidden": 6144}


def videomae_shapes(depth: int | None = None, dim: int = 1408, hidden: int | None = None) -> dict[str, list[int]]:
    """The ``vit_g_hybrid_pt_1200e_ssv2_ft.pth`` manifest, or the same key pattern shrunk (first ``depth`` blocks, width ``dim``).

    The shrunk shapes are derived from the published manifest by substituting sizes, not from
    our module, so they check the module's key pattern rather than repeat it.
    """
    full = manifest("videomae_v2_g_ssv2")
    if depth is None and dim == VIDEOMAE_FULL["dim"]:
        return full
    hidden = hidden or int(dim * 48 / 11)
    size = {VIDEOMAE_FULL["dim"]: dim, VIDEOMAE_FULL["qkv"]: 3 * dim, VIDEOMAE_FULL["hidden"]: hidden}
    out = {}
    for key, shape in full.items():
        if key.startswith("blocks.") and depth is not None and int(key.split(".")[1]) >= depth:
            continue
        out[key] = [size.get(s, s) if i < 2 else s for i, s in enumerate(shape)]
    return out


def write_videomae_checkpoint(path: Path, depth: int | None = 2, dim: int = 64, wrapper: str | None = None, seed: int = 0) -> Path:
    """A VideoMAE-v2 ViT file as published: an fp16 state dict, bare or under ``model``/``module``.

    Linear and conv weights are scaled by 1/√fan_in so a random network keeps finite, varied features.
    """
    shapes = videomae_shapes(depth, dim)
    g = torch.Generator().manual_seed(seed)
    state = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith(("norm1.weight", "norm2.weight")) or key == "fc_norm.weight":
            t = 1 + 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:
            t = 0.1 * torch.randn(shape, generator=g)
        else:
            fan_in = 1
            for s in shape[1:]:
                fan_in *= s
            t = torch.randn(shape, generator=g) / fan_in**0.5
        state[key] = t.half()
    torch.save({wrapper: state} if wrapper else state, path)
    return path
