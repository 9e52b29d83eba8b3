"""Every metric ``vhq eval`` and ``vhq bench`` know, one row each; the runners, the reports, the
bench and the command help read these rows.

A metric's CSV column carries its protocol (backbone, landmark set, crop): ``akd_fan2d`` and
``akd_dlib68`` are different metrics and never share a column or a leaderboard row.

Paired protocols (``--protocol``):
- ``lia`` (default): L1 and LPIPS video-weighted (LIA ``evaluation.py``: mean per video, then
  over videos); AKD, MKR and AED frame-weighted (pose-evaluation, which LIA uses for them).
- ``fomm``: everything frame-weighted (FOMM/MRAA ``reconstruction.py`` + pose-evaluation).
Both default sets take AED from OpenFace (``aed``, column ``aed_openface``: pose-evaluation's
network, the one the published tables use); ``aed_facenet`` is the facenet-pytorch variant.
Distribution metrics compare two unpaired sets: FVD, KVD and video FID are set-weighted, ACD and
csim are means over the generated videos.

Adding a paired metric computed frame by frame is one row here plus its function in
``eval/functional`` (and its network in ``eval/backbones`` with a ``Backbone`` record here, if it
needs one). This module stays free of heavy imports: the command line reads it for its help.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Mapping

from vhq.errors import BadInput, UsageError

PROTOCOLS = ("lia", "fomm")
DEFAULT_PROTOCOL = "lia"
AED_CROPS = ("frame", "mtcnn")
AED_DISTANCES = ("squared", "l2")
MIN_SIZE = 16


@dataclass(frozen=True)
class Backbone:
    """A network metrics share, and the registry weights (``vhq weights``) it loads."""

    name: str  # in CSV columns (akd_<name>) and cache keys
    load: str  # "module:callable" that builds it (paired: called with device=; video: with (weight, device))
    weights: tuple[str, ...]
    install: str = ""  # how to get the weights when `vhq weights fetch` cannot
    feature_dim: int = 0  # video backbones: size of the feature vector
    min_size: int = 0  # smallest frame side the network accepts (0: any the metric allows)


LPIPS_ALEX = Backbone("lpips_alex", "eval.backbones.lpips_alex:LpipsAlex.from_registry", ("alexnet", "lpips_alex_lin"), min_size=31)  # AlexNet conv5
FAN2D = Backbone("fan2d", "eval.backbones.fan:FanLandmarker", ("fan2d", "s3fd"), min_size=32)  # S3FD's deepest pyramid level
DLIB68 = Backbone("dlib68", "eval.backbones.dlib68:Dlib68Landmarker", ("dlib68",), install="pip install 'vhq[landmarks]'")
FACENET = Backbone("facenet", "eval.backbones.facenet:IdentityEmbedder", ("facenet_vggface2",))
OPENFACE = Backbone("openface", "eval.backbones.openface:OpenFaceEmbedder", ("openface",))
I3D = Backbone("i3d", "eval.backbones.i3d:load_i3d", ("i3d_pretrained_400",), feature_dim=400)
R3DX101 = Backbone("r3dx101", "eval.backbones.resnext3d:load_resnext101", ("resnext101_kinetics",), feature_dim=2048)
VIDEOMAE_G = Backbone("videomae_g", "eval.backbones.videomae:load_videomae", ("videomae_v2_g_ssv2",), feature_dim=1408)

VIDEO_UNDER_LIA = {"lia": "video", "fomm": "frame"}


@dataclass(frozen=True)
class Metric:
    """One metric: its names, how it is computed, how it is weighted and reported.

    ``scorer`` says which part of a runner computes it:
    - paired: ``frames`` (``per_frame(pred, gt[, net])`` gives per-frame values), ``landmarks``
      (``measure`` akd or mkr from the landmarks of both sides), ``identity`` (AED from embeddings);
    - distribution: ``clips`` (``measure`` frechet or kernel over clip features; ``clips`` names
      the clip protocol option, fvd, fid or videomae), ``embeddings`` (``measure`` acd or csim).
    """

    name: str  # what --metrics takes
    column: str  # CSV column and leaderboard metric (default parameters)
    kind: str  # paired | distribution
    scorer: str
    backbone: Backbone | None = None
    per_frame: str = ""  # frames scorer: "module:function"
    measure: str = ""
    clips: str = ""  # clips scorer: fvd (--fvd-protocol) | fid (--fid-protocol, --first-frames) | videomae (cd-fvd)
    weighting: str | Mapping[str, str] = "frame"  # one for every protocol, or per paired protocol
    higher_is_better: bool = False
    default: bool = False  # in the default --metrics of its kind

    @property
    def weights(self) -> tuple[str, ...]:
        return self.backbone.weights if self.backbone else ()

    @property
    def min_size(self) -> int:
        """Smallest scored frame side (``--size`` or native) this metric runs on."""
        return max(MIN_SIZE, self.backbone.min_size if self.backbone else 0)

    def weighting_under(self, protocol: str) -> str:
        return self.weighting if isinstance(self.weighting, str) else self.weighting[protocol]

    def csv_column(self, aed_crop: str = "frame", aed_distance: str = "squared") -> str:
        """The column under these AED settings: only the identity metric's name carries them."""
        if self.scorer != "identity":
            return self.column
        return self.column + ("" if aed_crop == "frame" else f"_{aed_crop}") + ("" if aed_distance == "squared" else f"_{aed_distance}")

    def columns(self) -> set[str]:
        return {self.csv_column(c, d) for c in AED_CROPS for d in AED_DISTANCES}


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("l1", "l1", "paired", "frames", per_frame="eval.functional.l1:l1_per_frame", weighting=VIDEO_UNDER_LIA, default=True),
    Metric("lpips", "lpips_alex", "paired", "frames", LPIPS_ALEX, per_frame="eval.functional.lpips:lpips_per_frame",
           weighting=VIDEO_UNDER_LIA, default=True),
    Metric("akd", "akd_fan2d", "paired", "landmarks", FAN2D, measure="akd", default=True),
    Metric("mkr", "mkr_face_fan2d", "paired", "landmarks", FAN2D, measure="mkr", default=True),
    Metric("akd_dlib68", "akd_dlib68", "paired", "landmarks", DLIB68, measure="akd"),
    Metric("mkr_dlib68", "mkr_face_dlib68", "paired", "landmarks", DLIB68, measure="mkr"),
    Metric("aed", "aed_openface", "paired", "identity", OPENFACE, measure="aed", default=True),
    Metric("aed_facenet", "aed_facenet", "paired", "identity", FACENET, measure="aed"),
    Metric("fvd_i3d", "fvd_i3d", "distribution", "clips", I3D, measure="frechet", clips="fvd", weighting="set", default=True),
    Metric("kvd", "kvd", "distribution", "clips", I3D, measure="kernel", clips="fvd", weighting="set", default=True),
    Metric("fid_r3dx101", "fid_r3dx101", "distribution", "clips", R3DX101, measure="frechet", clips="fid", weighting="set", default=True),
    Metric("fvd_videomae", "fvd_videomae", "distribution", "clips", VIDEOMAE_G, measure="frechet", clips="videomae", weighting="set"),
    Metric("acd", "acd", "distribution", "embeddings", FACENET, measure="acd", weighting="video", default=True),
    Metric("csim", "csim", "distribution", "embeddings", FACENET, measure="csim", weighting="video", higher_is_better=True, default=True),
)}


def of_kind(kind: str | None) -> list[Metric]:
    """Rows of one kind (every row for None), in catalog order."""
    return [m for m in METRICS.values() if kind in (None, m.kind)]


def names(kind: str | None = None, sep: str = ", ") -> str:
    """``"l1, lpips, …"``: the names of a kind, as the help and the error hints list them."""
    return sep.join(m.name for m in of_kind(kind))


def default_names(kind: str) -> str:
    """The default ``--metrics`` value of a kind: ``"l1,lpips,akd,mkr,aed"``."""
    return ",".join(m.name for m in of_kind(kind) if m.default)


def normalise(text: str | None) -> list[str]:
    """``" L1, akd-dlib68,"`` → ``["l1", "akd_dlib68"]``: trimmed, lower-case, ``-`` read as ``_``."""
    return [n.strip().lower().replace("-", "_") for n in (text or "").split(",") if n.strip()]


def parse_metrics(text: str | None, kind: str | None = "paired", *, ordered: bool = True) -> list[Metric]:
    """``"l1,lpips,akd"`` → rows of ``kind`` (any kind for None); None or ``""``: the kind's defaults.

    A row is named by its name or its default CSV column (``aed`` or ``aed_openface``). Repeats count once. Rows come in catalog order, or in the requested order with
    ``ordered=False``. Unknown names and a list with no name are usage errors.
    """
    if not text:
        return [m for m in of_kind(kind) if m.default]
    requested = normalise(text)
    if not requested:
        raise UsageError(f"--metrics {text!r} names no metric", f"choose from: {names(kind)}")
    rows = of_kind(kind)
    choices = {m.column: m for m in rows} | {m.name: m for m in rows}  # a row's default CSV column names it too
    unknown = [n for n in requested if n not in choices]
    if unknown:
        raise UsageError(f"unknown metric(s): {', '.join(unknown)}", f"choose from: {names(kind)}")
    picked = list({choices[n].name: choices[n] for n in requested}.values())
    return [m for m in rows if m in picked] if ordered else picked


def by_column(column: str) -> Metric | None:
    """The row whose CSV column (under any AED setting) is ``column``."""
    return next((m for m in METRICS.values() if column in m.columns()), None)


def install_hint(weight: str) -> str:
    """How to get ``weight`` when `vhq weights fetch` cannot (a pip extra), or ``""``."""
    return next((m.backbone.install for m in METRICS.values() if m.backbone and weight in m.weights and m.backbone.install), "")


def resolve(ref: str):
    """``"package.module:attr.attr"`` → the object (imported on first use: the catalog stays light)."""
    module, _, attr = ref.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise BadInput(f"unknown protocol {protocol!r}", f"choose one of: {', '.join(PROTOCOLS)}")
    return protocol
