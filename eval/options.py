"""The settings of ``vhq eval`` and ``vhq leaderboard render``, with their defaults and checks.

Free of heavy imports: the command line reads its defaults from these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eval import catalog
from vhq.errors import BadInput

RESIZE_FILTER = "bilinear+antialias (torch interpolate, align_corners=False), rounded to uint8"


@dataclass
class EvalOptions:
    """Paired metrics (``eval.paired.evaluate``)."""

    metrics: list[catalog.Metric] = field(default_factory=lambda: catalog.parse_metrics(None))
    protocol: str = catalog.DEFAULT_PROTOCOL
    size: int | None = None
    batch_size: int = 16
    aed_crop: str = "frame"
    aed_distance: str = "squared"
    device: str = "cpu"
    use_cache: bool = True

    def __post_init__(self) -> None:
        catalog.check_protocol(self.protocol)
        if self.size is not None and self.size < self.min_size:
            raise BadInput(f"--size {self.size}: must be at least {self.min_size} pixels for {self.min_size_reason()}")
        if self.batch_size < 1:
            raise BadInput(f"--batch-size {self.batch_size}: must be >= 1")
        if self.aed_crop not in catalog.AED_CROPS:
            raise BadInput(f"--aed-crop {self.aed_crop!r}", f"choose one of: {', '.join(catalog.AED_CROPS)}")
        if self.aed_distance not in catalog.AED_DISTANCES:
            raise BadInput(f"--aed-distance {self.aed_distance!r}", f"choose one of: {', '.join(catalog.AED_DISTANCES)}")

    @property
    def min_size(self) -> int:
        """The smallest scored frame side every requested metric runs on."""
        return max([catalog.MIN_SIZE] + [m.min_size for m in self.metrics])

    def min_size_reason(self) -> str:
        names = [m.name for m in self.metrics if m.min_size == self.min_size and self.min_size > catalog.MIN_SIZE]
        return ", ".join(names) if names else "any metric"

    def column(self, metric: catalog.Metric) -> str:
        return metric.csv_column(self.aed_crop, self.aed_distance)

    def params(self) -> dict:
        """Protocol parameters recorded with every summary/leaderboard row."""
        p = {"size": self.size or "native", "resize": RESIZE_FILTER if self.size else "none"}
        if any(m.scorer == "identity" for m in self.metrics):
            p.update(aed_crop=self.aed_crop, aed_distance=self.aed_distance)
        return p


@dataclass
class DistributionOptions:
    """Distribution metrics (``eval.distribution.evaluate_distribution``)."""

    fvd_protocol: str = "stylegan-v"
    fid_protocol: str = "g3an"
    videomae_protocol: str = "cd-fvd"
    clip_resolution: int | None = None  # cd-fvd loader crop (128 | 256); None: the protocol's own (256)
    resample_to: int | None = None  # cd-fvd's n_fake rule for the generated set (2048); None: every video once
    real_stats: Path | None = None  # published real-set statistics (cd-fvd .pkl) instead of --gt features
    seed: int | None = None  # None: the protocol's own (DIGAN 42, others 0)
    trials: int | None = None
    max_videos: int | None = None
    first_frames: int | None = None  # LIA's cross-video option for video FID: 100
    frames: int | None = None
    stride: int | None = None
    size: int | None = None  # plumbing tests only; the protocols resize to 224 / 112
    cov: str | None = None  # "unbiased" | "biased"; None: the protocol's own
    fd_method: str = "eigen"
    kvd_mode: str = "full"
    acd_pairs: str = "all"
    acd_max_frames: int | None = None
    i3d_weight: str = catalog.I3D.weights[0]
    r3dx101_weight: str = catalog.R3DX101.weights[0]
    videomae_g_weight: str = catalog.VIDEOMAE_G.weights[0]
    batch_size: int = 8
    workers: int = 2
    device: str | None = None
    use_cache: bool = True
    record_dir: Path | None = None  # where the sampled clips are written as CSV

    def protocol(self, name: str, for_fid: bool):
        """The named ``ClipProtocol`` with this run's overrides."""
        from eval.video_protocols import PROTOCOLS, get_protocol

        overrides = dict(seed=self.seed, trials=self.trials, max_videos=self.max_videos, frames=self.frames, stride=self.stride, size=self.size,
                         resample_to=self.resample_to)
        if name in PROTOCOLS and PROTOCOLS[name].clip_resolution:
            overrides["clip_resolution"] = self.clip_resolution
        if for_fid:
            overrides["first_frames"] = self.first_frames
        if self.cov is not None:
            if self.cov not in ("biased", "unbiased"):
                raise BadInput(f"unknown covariance normalisation {self.cov!r}", "choose biased (1/N) or unbiased (1/(N-1))")
            overrides["unbiased"] = self.cov == "unbiased"
        return get_protocol(name, **overrides)

    def weight(self, backbone: catalog.Backbone) -> str:
        """The registry weight this run loads for a video backbone (``<backbone>_weight`` overrides its own)."""
        return getattr(self, f"{backbone.name}_weight", backbone.weights[0])


@dataclass(frozen=True)
class RenderOptions:
    """``vhq leaderboard render`` (``eval.leaderboard.render``)."""

    resamples: int = 2000  # bootstrap resamples over videos for the 95 % intervals
    seed: int = 0
    plots: bool = True
    skip_bad_rows: bool = False  # leave malformed rows out with a warning instead of refusing the file
