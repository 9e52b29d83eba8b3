"""What a trained LIA model learned about motion (``vhq lia analyze``): its directions and how it uses them.

* the pairwise angles between the motion directions (columns of ``Q``): exactly 90° for the official
  orthonormal basis; the paper reports 90 ± 10° for a learned basis that is never orthogonalised;
* the norm of each direction (1 for an orthonormal basis);
* the magnitudes ``alpha`` the encoder gives the frames of a set of clips: mean and standard
  deviation (population, over every frame read) per direction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from lia.animate import frames_to_input
from lia.generator import Generator


def direction_angles(q: torch.Tensor) -> torch.Tensor:
    """Angles in degrees ``[M, M]`` (float64) between the columns of ``q`` ``[D, M]``; 0 on the diagonal."""
    q = q.detach().to(torch.float64)
    unit = q / q.norm(dim=0, keepdim=True)
    cos = (unit.T @ unit).clamp(-1.0, 1.0)
    angles = torch.rad2deg(torch.arccos(cos))
    angles.fill_diagonal_(0.0)
    return angles


def off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """The entries above the diagonal of a square matrix (each pair once)."""
    i, j = torch.triu_indices(m.shape[0], m.shape[1], offset=1)
    return m[i, j]


def summary(values: torch.Tensor) -> dict[str, float]:
    v = values.to(torch.float64)
    if v.numel() == 0:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan}
    return {"mean": float(v.mean()), "std": float(v.std(unbiased=False)), "min": float(v.min()), "max": float(v.max())}


@torch.inference_mode()
def alpha_statistics(generator: Generator, batches: Iterable[torch.Tensor]) -> dict:
    """Per-direction mean and population std of ``alpha`` over uint8 frame batches ``[B, H, W, 3]``."""
    p = next(generator.parameters())
    total = torch.zeros(generator.motion_dim, dtype=torch.float64)
    squares = torch.zeros_like(total)
    count = 0
    for frames in batches:
        alpha = generator.encode_motion(frames_to_input(frames, generator.size).to(p.device, p.dtype)).to("cpu", torch.float64)
        total += alpha.sum(0)
        squares += alpha.pow(2).sum(0)
        count += alpha.shape[0]
    if count == 0:
        raise ValueError("no frames to measure alpha on")
    mean = total / count
    std = (squares / count - mean.pow(2)).clamp_min(0).sqrt()
    return {"frames": count, "mean": mean.tolist(), "std": std.tolist()}


def analyze_directions(generator: Generator) -> dict:
    """Angles (matrix and summary of the distinct pairs) and norms of the generator's directions."""
    q = generator.directions()
    angles = direction_angles(q)
    return {
        "dictionary": generator.dictionary,
        "directions": int(q.shape[1]),
        "angles_deg": angles.tolist(),
        "angle_pairs_deg": summary(off_diagonal(angles)),
        "norms": q.detach().to(torch.float64).norm(dim=0).tolist(),
    }


def plot_angles(angles: Sequence[Sequence[float]], path: Path) -> None:
    """Heat map of the pairwise angles and a histogram of the distinct pairs."""
    plt = _pyplot()
    m = torch.tensor(angles, dtype=torch.float64)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4.2))
    im = ax0.imshow(m.numpy(), cmap="coolwarm", vmin=0, vmax=180)
    ax0.set_title("angle between directions i and j (deg)")
    ax0.set_xlabel("j")
    ax0.set_ylabel("i")
    fig.colorbar(im, ax=ax0)
    pairs = off_diagonal(m).numpy()
    ax1.hist(pairs, bins=36, range=(0, 180), color="tab:blue")
    ax1.axvline(90, color="k", lw=0.8, ls="--")
    ax1.set_title(f"{len(pairs)} pairs: {pairs.mean():.1f} ± {pairs.std():.1f}°" if len(pairs) else "no pairs")
    ax1.set_xlabel("angle (deg)")
    _save(fig, path)


def plot_norms(norms: Sequence[float], path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.3 * len(norms) + 2), 3.2))
    ax.bar(range(len(norms)), norms, color="tab:green")
    ax.set_xlabel("direction")
    ax.set_ylabel("norm of Q[:, i]")
    ax.set_title("direction norms")
    _save(fig, path)


def plot_alpha(mean: Sequence[float], std: Sequence[float], frames: int, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 0.3 * len(mean) + 2), 3.2))
    ax.bar(range(len(mean)), mean, yerr=std, capsize=2, color="tab:orange")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("direction")
    ax.set_ylabel("alpha (mean ± std)")
    ax.set_title(f"motion magnitudes over {frames} frames")
    _save(fig, path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
