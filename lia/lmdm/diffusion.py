"""The DDPM of LEO's LMDM over motion-code sequences, with its Linear Motion Condition (LMC).

What the paper fixes: 1000 steps, ε-prediction MSE (Eq. 1), ancestral sampling; cLMDM writes a
sequence as ``α_i = α_1 + m_i`` and diffuses only the residuals ``m = (m_2 … m_L)``; the network sees
``[α_1 ; α_1 + m_t]`` and ``α_1`` is re-imposed at every step (Eq. 2–4).

What vhq chose where the paper is silent (docs/lmdm.md lists them): β linear 1e-4 → 0.02 (Ho et al.;
cosine available), codes standardised per dimension before diffusion (``Normaliser``), the loss on the
L−1 residual positions only, the posterior variance β̃_t for sampling, and an optional DDIM sampler
(η = 0, k steps) that is **not** the paper's.

Shapes: sequences are ``[B, L, D]`` (L frames, D motion dimensions); ``t`` is ``[B]`` in ``0 … T−1``.
The schedule is computed in float64 and cast to the data's dtype when used.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import torch

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x [B, L, D], t [B]) -> ε̂ [B, L, D]
SCHEDULES = ("linear", "cosine")


@dataclass(frozen=True)
class DiffusionConfig:
    steps: int = 1000            # paper
    schedule: str = "linear"     # [vhq] Ho et al.'s linear β; "cosine" = Nichol & Dhariwal
    beta_start: float = 1e-4     # [vhq] linear schedule ends (Ho et al.)
    beta_end: float = 0.02

    def to_dict(self) -> dict:
        return asdict(self)


def make_betas(cfg: DiffusionConfig) -> torch.Tensor:
    if cfg.schedule == "linear":
        return torch.linspace(cfg.beta_start, cfg.beta_end, cfg.steps, dtype=torch.float64)
    if cfg.schedule == "cosine":
        def f(t: float) -> float:
            return math.cos((t / cfg.steps + 0.008) / 1.008 * math.pi / 2) ** 2
        return torch.tensor([min(1 - f(i + 1) / f(i), 0.999) for i in range(cfg.steps)], dtype=torch.float64)
    raise ValueError(f"unknown schedule {cfg.schedule!r}: choose from {', '.join(SCHEDULES)}")


class Diffusion:
    """Forward process, ε-loss and samplers of a DDPM with ``cfg.steps`` steps."""

    def __init__(self, cfg: DiffusionConfig = DiffusionConfig()):
        self.cfg = cfg
        self.betas = make_betas(cfg)
        self.alphas = 1.0 - self.betas
        self.alpha_bar = torch.cumprod(self.alphas, 0)
        self.alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alpha_bar[:-1]])
        self.posterior_var = self.betas * (1.0 - self.alpha_bar_prev) / (1.0 - self.alpha_bar)
        self.posterior_c0 = self.betas * self.alpha_bar_prev.sqrt() / (1.0 - self.alpha_bar)
        self.posterior_ct = (1.0 - self.alpha_bar_prev) * self.alphas.sqrt() / (1.0 - self.alpha_bar)

    @property
    def steps(self) -> int:
        return self.cfg.steps

    @staticmethod
    def _at(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return values.to(like.device)[t.to(like.device)].to(like.dtype).view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε``."""
        return self._at(self.alpha_bar.sqrt(), t, x0) * x0 + self._at((1 - self.alpha_bar).sqrt(), t, x0) * noise

    def x0_from_eps(self, xt: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return (xt - self._at((1 - self.alpha_bar).sqrt(), t, xt) * eps) / self._at(self.alpha_bar.sqrt(), t, xt)

    def posterior(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of ``q(x_{t−1} | x_t, x_0)``."""
        mean = self._at(self.posterior_c0, t, xt) * x0 + self._at(self.posterior_ct, t, xt) * xt
        return mean, self._at(self.posterior_var, t, xt)


# ---------------------------------------------------------------- the Linear Motion Condition


def lmc_input(a1: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """The network input ``[α_1 ; α_1 + m]``: ``a1`` ``[B, D]``, residuals ``m`` ``[B, L−1, D]`` → ``[B, L, D]``."""
    return torch.cat([a1[:, None], a1[:, None] + m], dim=1)


def lmc_loss(denoiser: Denoiser, diffusion: Diffusion, seq: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Eq. 4: ``‖ε − ε_θ(m_t, α_1, t)‖²`` over the residual positions 2…L (mean over elements).

    ``seq`` ``[B, L, D]`` is a (normalised) code sequence; ``noise`` ``[B, L−1, D]``.
    """
    a1, m0 = seq[:, 0], seq[:, 1:] - seq[:, :1]
    mt = diffusion.q_sample(m0, t, noise)
    eps = denoiser(lmc_input(a1, mt), t)[:, 1:]
    return (eps - noise).pow(2).mean()


def _eps(denoiser: Denoiser, a1: torch.Tensor, m: torch.Tensor, t: int) -> torch.Tensor:
    tt = torch.full((m.shape[0],), t, dtype=torch.long, device=m.device)
    return denoiser(lmc_input(a1, m), tt)[:, 1:]


@torch.no_grad()
def sample_ddpm(denoiser: Denoiser, diffusion: Diffusion, a1: torch.Tensor, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Ancestral sampling (the paper's): residuals ``m_0`` ``[B, length−1, D]`` given ``a1`` ``[B, D]``.

    ``x_{t−1} = μ̃(x̂_0, x_t) + √β̃_t z`` with ``x̂_0`` from ε̂; no noise at the last step. ``a1`` is
    concatenated afresh at every step. Noise is drawn from ``generator`` on the CPU (seeded runs
    give the same codes on any device).
    """
    shape = (a1.shape[0], length - 1, a1.shape[1])
    m = torch.randn(shape, generator=generator, dtype=a1.dtype).to(a1.device)
    for t in reversed(range(diffusion.steps)):
        tt = torch.full((shape[0],), t, dtype=torch.long, device=a1.device)
        x0 = diffusion.x0_from_eps(m, tt, _eps(denoiser, a1, m, t))
        mean, var = diffusion.posterior(x0, m, tt)
        if t > 0:
            m = mean + var.sqrt() * torch.randn(shape, generator=generator, dtype=a1.dtype).to(a1.device)
        else:
            m = mean
    return m


@torch.no_grad()
def sample_ddim(denoiser: Denoiser, diffusion: Diffusion, a1: torch.Tensor, length: int, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Deterministic DDIM (η = 0) over ``steps`` evenly spaced timesteps. Not the paper's sampler."""
    if not 1 <= steps <= diffusion.steps:
        raise ValueError(f"DDIM steps must be in 1..{diffusion.steps}, got {steps}")
    shape = (a1.shape[0], length - 1, a1.shape[1])
    m = torch.randn(shape, generator=generator, dtype=a1.dtype).to(a1.device)
    times = torch.linspace(diffusion.steps - 1, 0, steps, dtype=torch.float64).round().long().unique_consecutive().tolist()
    ab = diffusion.alpha_bar
    for i, t in enumerate(times):
        eps = _eps(denoiser, a1, m, t)
        tt = torch.full((shape[0],), t, dtype=torch.long, device=a1.device)
        x0 = diffusion.x0_from_eps(m, tt, eps)
        ab_next = float(ab[times[i + 1]]) if i + 1 < len(times) else 1.0
        m = math.sqrt(ab_next) * x0 + math.sqrt(1.0 - ab_next) * eps
    return m
