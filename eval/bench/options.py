"""The settings of ``vhq bench reconstruct|cross`` with their defaults and checks.

Free of heavy imports: the command line reads its defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eval import catalog
from eval.options import EvalOptions
from vhq.errors import BadInput
from vhq.parallel import Shard

FORMATS = ("mp4", "png")
CROSS_FRAMES = 100  # LIA's Vox256_cross: the first 100 driving frames


@dataclass
class BenchOptions:
    data: Path
    out: Path
    split: str = "test"
    fmt: str = "mp4"
    metrics: str | None = None  # None: the protocol's defaults (paired for reconstruct, distribution for cross)
    eval_protocol: str = catalog.DEFAULT_PROTOCOL
    size: int | None = None
    name: str | None = None
    leaderboard: Path | None = None
    skip_missing_weights: bool = False
    device: str | None = None
    batch_size: int = 16
    limit: int | None = None
    shard: Shard = field(default_factory=Shard)
    score: bool = True
    pairs: Path | None = None
    frames: int = CROSS_FRAMES
    aed_crop: str = EvalOptions.aed_crop

    def __post_init__(self):
        self.data, self.out = Path(self.data), Path(self.out)
        if self.fmt not in FORMATS:
            raise BadInput(f"--format {self.fmt!r}", f"choose one of: {', '.join(FORMATS)}")
        if self.limit is not None and self.limit < 1:
            raise BadInput(f"--limit {self.limit}: must be >= 1")
        if self.frames < 16:
            raise BadInput(f"--frames {self.frames}: the video metrics need clips of at least 16 frames")

    @property
    def board(self) -> Path:
        """The leaderboard CSV the rows merge into: ``--leaderboard``, else ``OUT/leaderboard.csv``."""
        return self.leaderboard if self.leaderboard is not None else self.out / "leaderboard.csv"

    def requested_metrics(self, kind: str) -> list[catalog.Metric]:
        """The ``--metrics`` rows in the requested order (any kind: the protocol checks), or the kind's defaults."""
        return catalog.parse_metrics(self.metrics or catalog.default_names(kind), None, ordered=False)
