"""Shared fixtures for the LIA tests: the official manifests and parity fixture, small random-init models, real photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

DATA = Path(__file__).resolve().parent.parent / "data" / "lia"



@pytest.fixture(scope="session")
def generator128():
    """Random-init size-128 generator (do not modify in tests)."""
    from lia import Generator

    torch.manual_seed(0)
    return Generator(128).eval()


@pytest.fixture(scope="session")
def astronaut128() -> torch.Tensor:
    from skimage import data

    return resize_photo(data.astronaut(), 128)


@pytest.fixture(scope="session")
def driving128() -> torch.Tensor:
    """Five different real photos as uint8 [5, 128, 128, 3] (their motion codes differ)."""
    from skimage import color, data

    photos = [data.chelsea(), data.coffee(), color.gray2rgb(data.camera()), data.rocket(), data.astronaut()[:, ::-1]]
    return torch.stack([resize_photo(p, 128) for p in photos])


def resize_photo(img: np.ndarray, size: int) -> torch.Tensor:
    """uint8 [H, W, 3] -> uint8 [size, size, 3] (area averaging of a centre square)."""
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=(size, size), mode="area")
    return x[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).contiguous()


@pytest.fixture(name="resize_photo", scope="session")
def resize_photo_fixture():
    return resize_photo


@pytest.fixture(scope="session")
def official_manifest():
    """name -> the official state_dict manifest (key -> shape, in the official order)."""
    return lambda name: json.loads((DATA / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def parity_fixture():
    """The float64 parity fixture of the official code (see tests/data/lia/README.md)."""
    return np.load(DATA / "parity_256.npz", allow_pickle=False)
