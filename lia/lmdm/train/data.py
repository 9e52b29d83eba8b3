"""Training windows of motion codes: ``seq_len`` codes ``stride`` frames apart, from one clip.

Which windows, timesteps and noise a step uses is a pure function of ``(seed, step)``: a run resumes
exactly from its step count, and is the same on any number of processes (rank r takes rows r, r+W, …
of the step's global batch).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from lia.lmdm.model import Normaliser
from vhq.errors import BadInput


class Windows:
    """Every window of every clip long enough; clips too short are counted in ``short``."""

    def __init__(self, codes: dict[str, torch.Tensor], seq_len: int, stride: int, where: str = "motion"):
        span = (seq_len - 1) * stride + 1
        self.keys = [k for k in sorted(codes) if codes[k].shape[0] >= span]
        self.short = len(codes) - len(self.keys)
        if not self.keys:
            longest = max((c.shape[0] for c in codes.values()), default=0)
            raise BadInput(f"{where}: no clip has the {span} frames a window of {seq_len} codes {stride} frame(s) apart needs (longest: {longest})",
                           hint="use longer clips, or a smaller --seq-len / --stride")
        self.codes = [codes[k] for k in self.keys]
        self.seq_len, self.stride, self.span = seq_len, stride, span
        self.counts = np.array([c.shape[0] - span + 1 for c in self.codes], dtype=np.int64)
        self.ends = np.cumsum(self.counts)
        self.norm = Normaliser.fit(torch.cat(self.codes))

    def __len__(self) -> int:
        return int(self.ends[-1])

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for k, c in zip(self.keys, self.codes):
            h.update(f"{k}\t{c.shape[0]}\n".encode())
        return h.hexdigest()[:16]

    def window(self, index: int) -> torch.Tensor:
        clip = int(np.searchsorted(self.ends, index, side="right"))
        start = index - (int(self.ends[clip - 1]) if clip else 0)
        return self.codes[clip][start:start + self.span:self.stride]

    def batch(self, seed: int, step: int, batch: int, steps: int, rank: int = 0, world: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """This rank's rows of step ``step``: normalised windows ``[b, L, D]``, timesteps ``[b]``, noise ``[b, L−1, D]``."""
        rng = np.random.default_rng([seed, step, 0x1D])
        index = rng.integers(len(self), size=batch)
        t = rng.integers(steps, size=batch)
        g = torch.Generator().manual_seed(int(rng.integers(2**62)))
        noise = torch.randn((batch, self.seq_len - 1, self.codes[0].shape[1]), generator=g)
        rows = list(range(rank, batch, world))
        seqs = torch.stack([self.norm.encode(self.window(int(index[i]))) for i in rows])
        return seqs, torch.from_numpy(t[rows]), noise[rows]
