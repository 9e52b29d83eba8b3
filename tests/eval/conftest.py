"""Random-init weight files in the real checkpoint formats, imported like a user would (--no-verify)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

WEIGHT_FILES = {
    "alexnet": "alexnet-owt-7be5be79.pth",
    "fan2d": "2DFAN4-11f355bf06.pth.tar",
    "s3fd": "s3fd-619a316812.pth",
    "facenet_vggface2": "20180402-114759-vggface2.pt",
}


def make_weight_file(name: str, folder: Path, seed: int = 0) -> Path:
    """A random-init network of the real architecture saved in its published file format."""
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


@pytest.fixture(scope="session")
def weight_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("random-weights")
    return {name: make_weight_file(name, folder) for name in WEIGHT_FILES}


@pytest.fixture(scope="session")
def shared_weights(weight_files, tmp_path_factory) -> Path:
    """A weights cache with every random-init file imported once per session (--no-verify)."""
    from vhq import weights

    cache = tmp_path_factory.mktemp("shared-cache")
    old = os.environ.get("VHQ_CACHE")
    os.environ["VHQ_CACHE"] = str(cache)
    try:
        for name, path in weight_files.items():
            weights.import_file(name, path, no_verify=True)
    finally:
        if old is None:
            os.environ.pop("VHQ_CACHE", None)
        else:
            os.environ["VHQ_CACHE"] = old
    return cache / "weights"


@pytest.fixture
def eval_weights(shared_weights, _isolated_cache) -> Path:
    """This test's $VHQ_CACHE sees the session's imported weights (GT cache stays per test)."""
    (_isolated_cache / "weights").symlink_to(shared_weights, target_is_directory=True)
    return _isolated_cache
