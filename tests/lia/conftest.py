"""Shared fixtures for the LIA tests: small random-init models and real photos."""

from __future__ import annotations

import pytest
import torch

from lia_test_helpers import resize_photo


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
