"""Numerical parity with the official implementation (tests/data/lia/README.md), in float64."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from lia import Discriminator, Generator

IMAGE_TOL = 1e-9
TOL = 1e-10


@pytest.fixture(scope="module")
def fixture(parity_fixture):
    return parity_fixture


def rule_weights(fx, prefix: str) -> dict[str, np.ndarray]:
    """The README's weight rule: official buffers as stored, otherwise N(0,1) seeded by the key's sha256."""
    shapes = json.loads(str(fx[f"{prefix}_manifest_json"]))
    buffers = dict(zip(fx[f"{prefix}_buffer_keys"].tolist(), fx[f"{prefix}_buffer_values"]))
    weights = {}
    for key in fx[f"{prefix}_keys"].tolist():
        if key in buffers:
            weights[key] = buffers[key]
            continue
        seed = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")
        a = np.random.default_rng(seed).standard_normal(shapes[key])
        if key.endswith("bias"):
            a = a * 0.1
        weights[key] = a.astype(np.float32).astype(np.float64)
    return weights


def inputs() -> tuple[np.ndarray, np.ndarray]:
    src = np.random.default_rng(1234).uniform(-1, 1, (1, 3, 256, 256))
    drv = np.random.default_rng(5678).uniform(-1, 1, (1, 3, 256, 256))
    return src, drv


@pytest.mark.parametrize("prefix", ["gen", "disc"])
def test_weight_rule_reproduces_fixture_hashes(fixture, prefix):
    weights = rule_weights(fixture, prefix)
    for key, digest in zip(fixture[f"{prefix}_keys"].tolist(), fixture[f"{prefix}_weight_sha256"].tolist()):
        assert hashlib.sha256(weights[key].astype("<f4").tobytes()).hexdigest() == digest, key


def test_input_rule_reproduces_fixture_hashes(fixture):
    src, drv = inputs()
    expected = json.loads(str(fixture["input_sha256_json"]))
    assert hashlib.sha256(src.astype("<f8").tobytes()).hexdigest() == expected["source"]
    assert hashlib.sha256(drv.astype("<f8").tobytes()).hexdigest() == expected["drive"]


def load_double(model: torch.nn.Module, weights: dict[str, np.ndarray]) -> torch.nn.Module:
    model = model.double()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=True)
    return model.eval()


@pytest.fixture(scope="module")
def outputs(fixture):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        g = load_double(Generator(256), rule_weights(fixture, "gen"))
        d = load_double(Discriminator(256), rule_weights(fixture, "disc"))
        src, drv = (torch.from_numpy(a) for a in inputs())
        with torch.no_grad():
            z, feats = g.encode_appearance(src)
            out = {
                "generator": g,
                "src": src,
                "drv": drv,
                "out_abs": g(src, drv),
                "z_source": z,
                "feats": feats,
                "alpha_source": g.encode_motion(src),
                "alpha_drive": g.encode_motion(drv),
                "directions": g.directions(),
                "disc_source": d(src),
                "disc_pair": d(torch.cat([src, drv])),
            }
    finally:
        torch.set_num_threads(threads)
    return out


def max_diff(got: torch.Tensor, expected: np.ndarray) -> float:
    assert tuple(got.shape) == expected.shape
    return (got - torch.from_numpy(expected)).abs().max().item()


@pytest.mark.parametrize("name", ["z_source", "alpha_source", "alpha_drive", "directions", "disc_source", "disc_pair"])
def test_latents_motion_directions_and_discriminator(fixture, outputs, name):
    assert max_diff(outputs[name], fixture[name]) < TOL


def test_encoder_features(fixture, outputs):
    feats = outputs["feats"]
    assert [f.shape[-1] for f in feats] == [8, 16, 32, 64, 128, 256]
    assert max_diff(feats[0], fixture["feat8"]) < TOL
    assert max_diff(feats[1], fixture["feat16"]) < TOL
    for f in feats:
        r = f.shape[-1]
        assert max_diff(f.mean(dim=(2, 3)), fixture[f"feat{r}_chmean"]) < TOL
        assert max_diff(f.abs().mean(dim=(2, 3)), fixture[f"feat{r}_chabsmean"]) < TOL


def test_absolute_motion_image(fixture, outputs):
    assert max_diff(outputs["out_abs"], fixture["out_abs"]) < IMAGE_TOL


def test_float64_identity_grid_would_break_parity(fixture, outputs):
    """The float32-rounded official grid is part of the model: the image tolerance catches its absence."""
    g = outputs["generator"]
    saved = {}
    try:
        for flow in g.dec.to_flows:
            saved[flow] = flow.grid
            xs = torch.linspace(-1, 1, flow.resolution, dtype=torch.float64)
            flow.grid = torch.stack(torch.meshgrid(xs, xs, indexing="xy"), dim=2)[None]
        with torch.no_grad():
            changed = g.decode(outputs["z_source"], outputs["feats"], outputs["alpha_drive"])
    finally:
        for flow, grid in saved.items():
            flow.grid = grid
    assert max_diff(changed, fixture["out_abs"]) > 1e-6
