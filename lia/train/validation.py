"""Validation during training: self-reconstruction of held-out clips (LIA ``evaluation.py`` protocol).

Source = frame 0 of each clip, every frame (frame 0 included) is a driving frame, absolute motion;
the reconstruction is clamped to [-1, 1] and compared with the driving frame on a [0, 1] scale.
The metrics are accumulators made by a factory (``vhq train-lia`` uses :func:`validation_metrics`:
``eval.metrics``' L1 and LPIPS): objects with ``update(pred, gt, end_video=False)``, ``end_video()``,
``sync()`` and ``compute(weighting)``. Clips are spread over ranks (rank-strided) and the accumulators' sums are
all-reduced, so every rank returns the same numbers. Averages are per video, as LIA reports them.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from lia.train.data import Clip, resize_frames, to_model_input
from vhq import distributed
from vhq.io import video
from vhq.parallel import rank_slice


class ReconstructionScorer:
    def __init__(
        self,
        clips: Sequence[Clip],
        size: int,
        make_metrics: Callable[[], dict[str, Any]],
        max_frames: int | None = None,
        batch: int = 8,
    ):
        self.clips = list(clips)
        self.size = size
        self.make_metrics = make_metrics
        self.max_frames = max_frames
        self.batch = batch

    def __call__(self, G: torch.nn.Module) -> dict[str, float]:
        metrics = self.make_metrics()
        param = next(G.parameters())
        was_training = G.training
        G.eval()
        with torch.no_grad():
            for clip in rank_slice(self.clips, distributed.rank(), distributed.world_size()):
                source = None
                for frames in video.iter_frames(clip.path, batch_size=self.batch, count=self.max_frames):
                    x = resize_frames(frames.permute(0, 3, 1, 2), self.size)
                    drv = to_model_input(x.to(param.device), param.dtype)
                    if source is None:
                        source = drv[:1]
                    rec = G(source.expand(drv.shape[0], -1, -1, -1), drv).clamp(-1, 1)
                    pred = ((rec.float() + 1) / 2).cpu()
                    gt = x.float() / 255
                    for m in metrics.values():
                        m.update(pred, gt, end_video=False)
                for m in metrics.values():
                    m.end_video()
        G.train(was_training)
        out = {}
        for name, m in metrics.items():
            m.sync()
            out[name] = m.compute("video")
        return out


def validation_metrics(device) -> Callable[[], dict[str, Any]]:
    """Fresh L1 + LPIPS accumulators for ``vhq train-lia --eval-every`` (the LPIPS network is loaded once)."""
    from eval.backbones.lpips_alex import LpipsAlex
    from eval.metrics import L1, LPIPS

    net = LpipsAlex.from_registry(device)
    return lambda: {"l1": L1(), "lpips": LPIPS(net)}
