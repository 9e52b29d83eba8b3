"""Checkpoint import (official files) and the vhq-lia format: safe loading, round trip, atomic writes."""

from __future__ import annotations

import argparse
import os

import pytest
import torch

from lia import Discriminator, Generator, load_checkpoint, save_checkpoint
from lia.checkpoint import FORMAT, VERSION
from vhq.errors import BadInput


class Payload:
    """An arbitrary class: unpickling it would run code (here: create a marker file)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


class Opaque:
    """A harmless but arbitrary class."""


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return Generator(32), Discriminator(32)


def same_state(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def official_args() -> argparse.Namespace:
    return argparse.Namespace(size=32, latent_dim_style=512, latent_dim_motion=20, channel_multiplier=1, lr=0.002, exp_name="v1")


def test_official_training_checkpoint_loads(models, tmp_path):
    g, d = models
    path = tmp_path / "vox.pt"
    optim = torch.optim.Adam(g.parameters(), lr=0.0016, betas=(0.0, 0.991992))
    torch.save({"gen": g.state_dict(), "dis": d.state_dict(), "g_optim": optim.state_dict(), "d_optim": {}, "args": official_args()}, path)
    ckpt = load_checkpoint(path)
    assert ckpt.kind == "official"
    assert ckpt.config == {"size": 32, "style_dim": 512, "motion_dim": 20}
    assert ckpt.extra["args"]["latent_dim_motion"] == 20 and ckpt.extra["args"]["exp_name"] == "v1"
    assert same_state(ckpt.generator().state_dict(), g.state_dict())
    assert same_state(ckpt.discriminator().state_dict(), d.state_dict())
    assert "g_optim" in ckpt.extra


def test_generator_only_files_and_bare_state_dicts_load(models, tmp_path):
    g, _ = models
    torch.save({"gen": g.state_dict()}, tmp_path / "gen_only.pt")
    torch.save(g.state_dict(), tmp_path / "bare.pt")
    for name, kind in (("gen_only.pt", "official"), ("bare.pt", "state_dict")):
        ckpt = load_checkpoint(tmp_path / name)
        assert ckpt.kind == kind and ckpt.discriminator() is None
        assert same_state(ckpt.generator().state_dict(), g.state_dict())


def test_file_with_an_arbitrary_class_is_refused_without_running_it(models, tmp_path):
    g, _ = models
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"gen": g.state_dict(), "args": Payload(str(marker))}, path)
    with pytest.raises(BadInput, match="refused: the file contains code") as err:
        load_checkpoint(path)
    assert str(path) in err.value.message and "open" in err.value.message
    assert not marker.exists()

    torch.save({"gen": g.state_dict(), "args": official_args(), "x": Opaque()}, path)
    with pytest.raises(BadInput, match=r"Opaque"):
        load_checkpoint(path)


def test_vhq_format_round_trip(models, tmp_path):
    g, d = models
    path = tmp_path / "run" / "ckpt.pt"
    optim = torch.optim.Adam(d.parameters())
    save_checkpoint(path, g, d, step=1200, d_optim=optim.state_dict(), notes={"data": "vox", "scales": [1, 0.5]})
    raw = torch.load(path, weights_only=True)  # no allow-list needed
    assert raw["format"] == FORMAT and raw["version"] == VERSION
    assert raw["config"] == {"size": 32, "style_dim": 512, "motion_dim": 20}
    ckpt = load_checkpoint(path)
    assert ckpt.kind == FORMAT and ckpt.extra["step"] == 1200 and ckpt.extra["notes"]["scales"] == [1, 0.5]
    assert same_state(ckpt.generator().state_dict(), g.state_dict())
    assert same_state(ckpt.discriminator().state_dict(), d.state_dict())
    assert os.listdir(path.parent) == ["ckpt.pt"]  # no temporary file left behind


def test_save_refuses_non_plain_entries_and_keeps_the_old_file(models, tmp_path):
    g, _ = models
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, g, step=1)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="Namespace"):
        save_checkpoint(path, g, args=official_args())
    with pytest.raises(TypeError, match="reserved"):
        save_checkpoint(path, g, config={})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.pt"]


def test_unusable_files_are_clear_errors(models, tmp_path):
    g, _ = models
    with pytest.raises(BadInput, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BadInput, match="junk.pt: not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": [1, 2]}, tmp_path / "other.pt")
    with pytest.raises(BadInput, match="not a LIA checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    torch.save({"format": FORMAT, "version": VERSION + 1, "config": g.config, "gen": g.state_dict()}, tmp_path / "future.pt")
    with pytest.raises(BadInput, match="newer"):
        load_checkpoint(tmp_path / "future.pt")
    broken = dict(g.state_dict())
    broken.pop("dec.to_rgb1.bias")
    torch.save({"gen": broken}, tmp_path / "broken.pt")
    with pytest.raises(BadInput, match=r"broken.pt: 'gen' does not match .*to_rgb1"):
        load_checkpoint(tmp_path / "broken.pt").generator()
