"""Fixtures for the LIA-X tests: the released layout's manifest and a small random-init model saved
the way upstream saves ``lia-x.pt`` (a bare state_dict)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

DATA = Path(__file__).resolve().parent / "data"
TINY = {"size": 64, "scale": 0.5, "style_dim": 64, "motion_dim": 40}


@pytest.fixture(scope="session")
def liax_manifest() -> dict[str, list[int]]:
    """Key -> shape of the released lia-x.pt (derived from the upstream classes at 6ec550a)."""
    return json.loads((DATA / "liax_state_dict_scale2_md40.json").read_text())


def random_liax_state(config: dict = TINY, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in the real key layout; ``gamma`` and biases non-zero so every branch counts."""
    from lia.x.generator import LiaXGenerator

    torch.manual_seed(seed)
    g = LiaXGenerator(**config)
    state = g.state_dict()
    gen = torch.Generator().manual_seed(seed + 1)
    for k, v in state.items():
        if k.endswith(".gamma") or (k.endswith("bias") and "modulation" not in k):
            state[k] = 0.3 * torch.randn(v.shape, generator=gen)
    return dict(state)


@pytest.fixture(scope="session")
def tiny_liax_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("liax") / "lia-x-tiny.pt"
    torch.save(random_liax_state(), path)
    return path


@pytest.fixture(scope="session")
def tiny_liax(tiny_liax_file):
    """The tiny model loaded from its file (do not modify in tests)."""
    from lia.x.checkpoint import load_generator

    return load_generator(tiny_liax_file)


@pytest.fixture(name="random_liax_state", scope="session")
def random_liax_state_fixture():
    return random_liax_state


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    return dict(TINY)
