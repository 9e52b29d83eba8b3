"""The paired metrics ``vhq eval`` knows: CLI alias → CSV name, backbone, weighting per protocol.

A metric's CSV name carries its protocol (backbone, landmark set, crop): ``akd_fan2d`` and
``akd_dlib68`` are different metrics and never share a column or a leaderboard row.

Protocols:
- ``lia`` (default): L1 and LPIPS video-weighted (LIA ``evaluation.py``: mean per video, then
  over videos); AKD, MKR and AED frame-weighted (pose-evaluation, which LIA uses for them).
- ``fomm``: everything frame-weighted (FOMM/MRAA ``reconstruction.py`` + pose-evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass

from vhq.errors import BadInput

PROTOCOLS = ("lia", "fomm")
DEFAULT_PROTOCOL = "lia"
DEFAULT_METRICS = ("l1", "lpips", "akd", "mkr", "aed")
AED_CROPS = ("frame", "mtcnn")
AED_DISTANCES = ("squared", "l2")


@dataclass(frozen=True)
class MetricSpec:
    alias: str
    family: str  # l1 | lpips | landmarks | identity
    backend: str  # none | lpips | fan2d | dlib68 | facenet
    lia_weighting: str
    kind: str = "mean"  # mean | akd | mkr
    higher_is_better: bool = False

    def column(self, aed_crop: str = "frame", aed_distance: str = "squared") -> str:
        if self.family == "l1":
            return "l1"
        if self.family == "lpips":
            return "lpips_alex"
        if self.kind == "akd":
            return f"akd_{self.backend}"
        if self.kind == "mkr":
            return f"mkr_face_{self.backend}"
        name = "aed_facenet"
        if aed_crop != "frame":
            name += f"_{aed_crop}"
        if aed_distance != "squared":
            name += f"_{aed_distance}"
        return name

    def weighting(self, protocol: str) -> str:
        return self.lia_weighting if protocol == "lia" else "frame"


METRICS: dict[str, MetricSpec] = {
    "l1": MetricSpec("l1", "l1", "none", "video"),
    "lpips": MetricSpec("lpips", "lpips", "lpips", "video"),
    "akd": MetricSpec("akd", "landmarks", "fan2d", "frame", kind="akd"),
    "mkr": MetricSpec("mkr", "landmarks", "fan2d", "frame", kind="mkr"),
    "akd_dlib68": MetricSpec("akd_dlib68", "landmarks", "dlib68", "frame", kind="akd"),
    "mkr_dlib68": MetricSpec("mkr_dlib68", "landmarks", "dlib68", "frame", kind="mkr"),
    "aed": MetricSpec("aed", "identity", "facenet", "frame"),
}


def parse_metrics(text: str | None) -> list[MetricSpec]:
    """``"l1,lpips,akd"`` → specs in the canonical order; unknown names are a usage error."""
    names = [n.strip().lower().replace("-", "_") for n in (text or ",".join(DEFAULT_METRICS)).split(",") if n.strip()]
    if not names:
        raise BadInput("--metrics is empty", f"choose from: {', '.join(METRICS)}")
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise BadInput(f"unknown metric(s): {', '.join(unknown)}", f"choose from: {', '.join(METRICS)}")
    return [METRICS[n] for n in METRICS if n in names]


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise BadInput(f"unknown protocol {protocol!r}", f"choose one of: {', '.join(PROTOCOLS)}")
    return protocol
