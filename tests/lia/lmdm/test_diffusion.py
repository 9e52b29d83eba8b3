"""The diffusion maths against closed forms in float64, and the samplers with an exact (oracle) ε-network."""

from __future__ import annotations

import math

import pytest
import torch

from lia.lmdm.diffusion import Diffusion, DiffusionConfig, lmc_input, lmc_loss, sample_ddim, sample_ddpm

D64 = torch.float64


def test_forward_marginal_equals_the_one_step_chain():
    d = Diffusion(DiffusionConfig(steps=1000))
    assert d.betas[0] == 1e-4 and abs(float(d.betas[-1]) - 0.02) < 1e-15
    # q(x_t | x_0) by iterating q(x_t | x_{t-1}) = N(√α_t x_{t-1}, β_t): mean factor and variance
    mean, var = 1.0, 0.0
    for t in range(1000):
        beta = float(d.betas[t])
        mean, var = math.sqrt(1 - beta) * mean, (1 - beta) * var + beta
        if t in (0, 1, 10, 499, 999):
            x0, eps = torch.tensor([[0.7]], dtype=D64), torch.tensor([[-1.3]], dtype=D64)
            xt = d.q_sample(x0, torch.tensor([t]), eps)
            assert abs(float(xt) - (mean * 0.7 + math.sqrt(var) * -1.3)) < 1e-12


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_posterior_is_the_bayes_product_of_the_two_gaussians(schedule):
    d = Diffusion(DiffusionConfig(steps=200, schedule=schedule))
    x0, xt = torch.tensor([[0.4], [-2.0]], dtype=D64), torch.tensor([[1.1], [0.3]], dtype=D64)
    for t in (1, 2, 57, 199):
        ab_prev, alpha, beta = float(d.alpha_bar[t - 1]), float(d.alphas[t]), float(d.betas[t])
        precision = 1 / (1 - ab_prev) + alpha / beta
        want_var = 1 / precision
        want_mean = want_var * (math.sqrt(ab_prev) * x0 / (1 - ab_prev) + math.sqrt(alpha) * xt / beta)
        mean, var = d.posterior(x0, xt, torch.tensor([t, t]))
        assert torch.allclose(mean, want_mean, rtol=1e-12, atol=1e-12)
        assert torch.allclose(var, torch.full_like(var, want_var), rtol=1e-12)
    mean, var = d.posterior(x0, xt, torch.tensor([0, 0]))  # ᾱ_{-1} = 1: x_{-1} is x_0 itself
    assert torch.allclose(mean, x0, atol=1e-15) and float(var.abs().max()) == 0.0


def test_x0_from_eps_inverts_q_sample():
    d = Diffusion()
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(5, 7, 3, generator=g, dtype=D64), torch.randn(5, 7, 3, generator=g, dtype=D64)
    t = torch.tensor([0, 1, 300, 998, 999])
    assert torch.allclose(d.x0_from_eps(d.q_sample(x0, t, eps), t, eps), x0, atol=1e-10)


def oracle(d: Diffusion, mu: torch.Tensor, s: float):
    """The exact ε-network for residuals m ~ N(mu, s²) (i.i.d. per element): E[ε | m_t]."""
    def net(x, t):
        m = x[:, 1:] - x[:, :1]
        ab = d.alpha_bar[t].to(x).view(-1, 1, 1)
        eps = (1 - ab).sqrt() * (m - ab.sqrt() * mu) / (ab * s * s + 1 - ab)
        return torch.cat([torch.zeros_like(x[:, :1]), eps], dim=1)
    return net


def test_samplers_with_the_exact_eps_network_reproduce_the_data_distribution():
    d = Diffusion(DiffusionConfig(steps=1000))  # the paper's 1000 steps: ᾱ_T ≈ 4e-5, x_T is N(0, I)
    mu = torch.tensor([1.5, -0.5], dtype=D64)
    a1 = torch.randn(4000, 2, dtype=D64, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(0)
    # a point mass (s → 0): the first denoising step already lands on it, the rest keep it there
    point = sample_ddpm(oracle(d, mu, 1e-9), d, a1[:3], length=5, generator=g)
    assert torch.allclose(point, mu.expand_as(point), atol=1e-6)
    ddim = sample_ddim(oracle(d, mu, 1e-9), d, a1[:3], length=5, steps=10, generator=g)
    assert torch.allclose(ddim, mu.expand_as(ddim), atol=1e-6)
    # a Gaussian N(mu, 0.5²): ancestral samples have its mean and spread (4000 × 3 × 2 draws)
    m = sample_ddpm(oracle(d, mu, 0.5), d, a1, length=4, generator=g)
    assert torch.allclose(m.mean((0, 1)), mu, atol=0.03)
    assert torch.allclose(m.std((0, 1)), torch.full((2,), 0.5, dtype=D64), atol=0.02)


def test_lmc_feeds_alpha1_plus_residuals_and_scores_only_the_residuals():
    d = Diffusion(DiffusionConfig(steps=50))
    g = torch.Generator().manual_seed(0)
    seq = torch.randn(3, 8, 2, generator=g, dtype=D64)
    x = lmc_input(seq[:, 0], seq[:, 1:] - seq[:, :1])
    assert torch.equal(x[:, 0], seq[:, 0]) and torch.allclose(x, seq, atol=1e-15)
    noise, t = torch.randn(3, 7, 2, generator=g, dtype=D64), torch.tensor([0, 10, 49])
    zero = lmc_loss(lambda x, t: torch.zeros_like(x), d, seq, t, noise)
    assert torch.allclose(zero, noise.pow(2).mean())
    # a network that knows the noise scores 0 whatever it says at position 1 (α_1 is not diffused)
    def knows(x, t):
        return torch.cat([torch.full_like(x[:, :1], 99.0), noise], dim=1)
    assert float(lmc_loss(knows, d, seq, t, noise)) == 0.0
