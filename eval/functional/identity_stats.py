"""Identity statistics over per-frame embeddings: ACD and csim.

Pure functions over embedding arrays; which network produced the embeddings (facenet, OpenFace,
or the colour-mean feature MoCoGAN used for its shapes dataset) is the caller's business and must
be recorded next to the value — ACD from different networks is not comparable.

- ACD (MoCoGAN's average content distance): per video, the mean *Euclidean* (not squared)
  distance between frame embeddings, over all unordered pairs i < j (``pairs="all"``) or over
  consecutive frames (``pairs="consecutive"``); then the mean over videos.
- csim: cosine similarity between the source image's embedding and each generated frame's
  embedding, averaged over frames, then over videos (the cross-identity metric).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from eval.functional._checks import as_2d_float64
from vhq.errors import BadInput

ACD_PAIRS = ("all", "consecutive")


def _as_2d(x, what: str) -> np.ndarray:
    return as_2d_float64(x, what, "[frames, dim]")


def content_distance(embeddings, pairs: str = "all") -> float:
    """One video's ACD: mean L2 distance between its frame embeddings ``[T, D]``."""
    e = _as_2d(embeddings, "embeddings")
    if e.shape[0] < 2:
        raise BadInput(f"ACD needs at least 2 frames per video, got {e.shape[0]}")
    if pairs == "consecutive":
        return float(np.linalg.norm(e[1:] - e[:-1], axis=1).mean())
    if pairs != "all":
        raise BadInput(f"unknown ACD pairing {pairs!r}", f"choose one of: {', '.join(ACD_PAIRS)}")
    sq = (e * e).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (e @ e.T)
    iu = np.triu_indices(e.shape[0], k=1)
    return float(np.sqrt(np.clip(d2[iu], 0, None)).mean())


def average_content_distance(videos: Iterable, pairs: str = "all") -> tuple[float, float, int]:
    """ACD over videos: (mean, std over videos, number of videos)."""
    per_video = np.array([content_distance(e, pairs) for e in videos], dtype=np.float64)
    if per_video.size == 0:
        raise BadInput("ACD needs at least one video")
    return float(per_video.mean()), float(per_video.std()), int(per_video.size)


def cosine_similarity(source, frames) -> np.ndarray:
    """Cosine similarity of one source embedding ``[D]`` with each frame embedding ``[T, D]``."""
    s = np.asarray(source.detach().cpu().double().numpy() if hasattr(source, "detach") else source, np.float64).reshape(-1)
    f = _as_2d(frames, "frame embeddings")
    if f.shape[1] != s.shape[0]:
        raise BadInput(f"source embedding has {s.shape[0]} dims, frame embeddings {f.shape[1]}")
    denom = np.linalg.norm(f, axis=1) * np.linalg.norm(s)
    if (denom == 0).any():
        raise BadInput("cannot take the cosine similarity of a zero embedding")
    return (f @ s) / denom


def identity_similarity(pairs: Iterable[tuple]) -> tuple[float, float, int]:
    """csim over videos from (source embedding, frame embeddings) pairs: (mean, std, videos)."""
    per_video = np.array([cosine_similarity(s, f).mean() for s, f in pairs], dtype=np.float64)
    if per_video.size == 0:
        raise BadInput("csim needs at least one video")
    return float(per_video.mean()), float(per_video.std()), int(per_video.size)
