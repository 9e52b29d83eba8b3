"""One training step's phases: the recipe's optimiser settings, EMA, lazy R1, bf16 autocast."""

from __future__ import annotations

import math

import pytest
import torch

from lia import Discriminator, Generator
from lia.train.loop import Phases, adam_settings


def test_adam_settings_are_the_official_lazy_regularisation_ones():
    g_lr, g_betas = adam_settings(0.002, 4)
    d_lr, d_betas = adam_settings(0.002, 16)
    assert math.isclose(g_lr, 0.0016) and g_betas[0] == 0.0 and math.isclose(g_betas[1], 0.99**0.8)
    assert math.isclose(d_lr, 0.002 * 16 / 17) and math.isclose(d_betas[1], 0.990585, rel_tol=1e-6)


@pytest.mark.slow
def test_step_with_ema_r1_and_bf16_autocast():
    torch.manual_seed(0)
    G, D = Generator(32).train(), Discriminator(32).train()
    ema = Generator(32).eval().requires_grad_(False)
    ema.load_state_dict(G.state_dict())
    g_opt = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.0, 0.99))
    d_opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.99))
    phases = Phases(G, D, g_opt, d_opt, None, dtype=torch.float32, amp="bf16", device=torch.device("cpu"), world=1,
                    r1_gamma=1.0, d_reg_every=16, ema=ema, ema_beta=0.5)
    before = {k: v.clone() for k, v in G.state_dict().items()}
    pairs = torch.randint(0, 256, (2, 2, 3, 32, 32), dtype=torch.uint8)
    phases.step([pairs], step=0)  # step 0: R1 runs (every 16 steps)
    stats = phases.reduced_stats()
    assert {"Loss/G/l1", "Loss/G/adv", "Loss/D/real", "Loss/D/fake", "Loss/D/r1"} <= set(stats)
    assert "Loss/G/vgg" not in stats and all(math.isfinite(v) for v in stats.values())
    key = "dec.direction.weight"
    after = G.state_dict()[key]
    assert not torch.equal(after, before[key])
    # EMA with β = 0.5 sits halfway between the old and the new weights.
    assert torch.allclose(ema.state_dict()[key], (before[key] + after) / 2, atol=1e-6)
    assert phases.reduced_stats() == {}  # reset after reading
