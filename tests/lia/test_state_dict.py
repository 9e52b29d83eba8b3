"""The models' state_dicts are the official ones, key for key (lia.md §1, §7)."""

from __future__ import annotations

import pytest
import torch

from lia import Discriminator, Generator

CASES = [
    pytest.param(Generator, 256, "lia_state_dict_256", id="G256"),
    pytest.param(Generator, 512, "lia_state_dict_512", id="G512"),
    pytest.param(Discriminator, 256, "lia_disc_state_dict_256", id="D256"),
]


@pytest.mark.parametrize("cls,size,name", CASES)
def test_state_dict_equals_official_manifest(cls, size, name, official_manifest):
    expected = official_manifest(name)
    got = {k: list(v.shape) for k, v in cls(size).state_dict().items()}
    assert list(got) == list(expected)  # same keys, same (official) order
    assert got == expected


@pytest.mark.parametrize("cls,size,name", CASES)
def test_strict_load_of_official_shaped_weights(cls, size, name, official_manifest):
    g = torch.Generator().manual_seed(1)
    state = {k: torch.randn(shape, generator=g) for k, shape in official_manifest(name).items()}
    model = cls(size)
    model.load_state_dict(state, strict=True)
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


@pytest.mark.parametrize(
    "cls,size,params,tensors,state_keys",
    [
        (Generator, 256, 45_116_317, 155, 185),
        (Generator, 512, 45_239_560, 177, 212),
        (Discriminator, 256, 24_001_089, 38, 50),
        (Discriminator, 512, 24_030_753, 43, 57),
    ],
)
def test_parameter_counts(cls, size, params, tensors, state_keys):
    model = cls(size)
    assert sum(p.numel() for p in model.parameters()) == params
    assert len(list(model.parameters())) == tensors
    assert len(model.state_dict()) == state_keys


def test_identity_grids_are_buffers_but_not_saved():
    g = Generator(256)
    buffers = dict(g.named_buffers())
    grids = {k: v for k, v in buffers.items() if k.endswith(".grid")}
    assert len(grids) == 6 and not any(k in g.state_dict() for k in grids)
    # The official grid: float32 linspace(-1, 1, r), x first, y second.
    grid = grids["dec.to_flows.5.grid"]
    assert grid.dtype == torch.float32 and grid.shape == (1, 256, 256, 2)
    lin = torch.linspace(-1, 1, 256, dtype=torch.float64).float()
    assert torch.equal(grid[0, 0, :, 0], lin) and torch.equal(grid[0, :, 0, 1], lin)
    kernels = [k for k in g.state_dict() if k.endswith("kernel")]
    assert len(kernels) == 30


def test_sizes_outside_the_tables_are_refused():
    for bad in (100, 4, 2048):
        with pytest.raises(ValueError, match="power of two"):
            Generator(bad)
