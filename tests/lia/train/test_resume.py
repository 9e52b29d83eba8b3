"""Resuming a run: finding the checkpoint, writing the training state and restoring it into fresh models."""

from __future__ import annotations

import pytest
import torch

from lia import Discriminator, Generator, save_checkpoint
from lia.train import resume
from lia.train.loop import Phases
from vhq.errors import BadInput

SIZE = 32


def phases(seed: int, size: int = SIZE) -> Phases:
    torch.manual_seed(seed)
    G, D = Generator(size).train(), Discriminator(size).train()
    g_opt = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.0, 0.99))
    d_opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.99))
    return Phases(G, D, g_opt, d_opt, None, dtype=torch.float32, amp="none", device=torch.device("cpu"), world=1)


def take_a_step(p: Phases) -> None:
    for module, opt in ((p.G, p.g_opt), (p.D, p.d_opt)):
        for param in module.parameters():
            param.grad = torch.full_like(param, 0.5)
        opt.step()


def test_find_latest_takes_the_newest_run_that_has_a_checkpoint(tmp_path):
    for run, steps in (("00000-a", [4, 8]), ("00001-b", [2]), ("00002-c", []), ("notes", [9])):
        (tmp_path / run).mkdir()
        for step in steps:
            (tmp_path / run / resume.checkpoint_name(step)).write_bytes(b"")
    assert resume.find_latest(tmp_path) == tmp_path / "00001-b" / "checkpoint-0000002.pt"
    assert resume.resume_checkpoint("latest", tmp_path) == tmp_path / "00001-b" / "checkpoint-0000002.pt"
    with pytest.raises(BadInput, match="no checkpoint"):
        resume.find_latest(tmp_path / "00002-c")
    with pytest.raises(BadInput, match="no such checkpoint file"):
        resume.resume_checkpoint(str(tmp_path / "missing.pt"), tmp_path)


def test_save_then_restore_continues_exactly(tmp_path):
    before = phases(seed=0)
    take_a_step(before)
    options = {"batch": 2, "seed": 0}
    for step in (1, 2, 3):
        path = resume.save(tmp_path, before, step=step, batch=2, keep=2, options=options, perceptual="none", fingerprint="f0")
    assert path == tmp_path / "checkpoint-0000003.pt"
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["checkpoint-0000002.pt", "checkpoint-0000003.pt"]
    expected_draw = torch.rand(3)

    after = phases(seed=1)
    resumed = resume.restore(path, after, options={"batch": 2, "seed": 5}, fingerprint="f1")
    assert (resumed.step, resumed.rng_restored) == (3, True)
    assert torch.equal(torch.rand(3), expected_draw)  # the RNG continues from where the checkpoint was written
    assert resumed.line() == f"resumed from {path} at step 3 (seed 0 -> 5; the clip list changed)"
    for a, b in ((before.G, after.G), (before.D, after.D)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(x, y), name
    for a, b in ((before.g_opt, after.g_opt), (before.d_opt, after.d_opt)):
        for i, state in a.state_dict()["state"].items():
            assert all(torch.equal(state[k], b.state_dict()["state"][i][k]) for k in state)


def test_restore_refuses_other_models_and_plain_weights(tmp_path):
    p = phases(seed=0)
    path = resume.save(tmp_path, p, step=1, batch=1, keep=0, options={}, perceptual="none", fingerprint="f")
    with pytest.raises(BadInput, match="it was trained with .* not size=64"):
        resume.restore(path, phases(seed=0, size=64), options={}, fingerprint="f")
    plain = save_checkpoint(tmp_path / "weights.pt", p.G)
    with pytest.raises(BadInput, match="not a vhq train-lia checkpoint"):
        resume.restore(plain, p, options={}, fingerprint="f")
