"""What ``vhq crop`` is asked to do: its options with their defaults, and ``crop_run.json``, the record
of the last run's manifest and parameters (``vhq split`` and ``vhq stats`` read it).

Light to import (no torch, cv2 or PyAV): ``vhq --help`` shows these defaults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vhq import __version__
from vhq.dataset.crop.faces import SAMPLES
from vhq.dataset.crop.faces import THRESHOLD as FACE_THRESHOLD
from vhq.dataset.crop.geometry import BOX_RULES, DEFAULT_ENLARGE, FOMM_STRETCH, MIN_CROP, MIN_INSIDE, VHQ
from vhq.dataset.crop.scenes import MIN_CONTENT, MIN_FRAMES, THRESHOLD
from vhq.dataset.manifest import Manifest
from vhq.errors import BadInput
from vhq.io import files

FORMATS = ("mp4", "png")
RUN_FILE = "crop_run.json"


@dataclass(frozen=True)
class Options:
    out: Path
    videos: Path
    size: int = 512
    format: str = "mp4"
    crf: int = 17
    preset: str = "medium"
    gop: int = 25
    box: str = VHQ
    enlarge: float | None = None  # None: the box rule's own (1.1 for vhq, 1.0 for fomm-square)
    min_crop: int = MIN_CROP
    min_inside: float = MIN_INSIDE
    face_check: bool = True
    face_threshold: float = FACE_THRESHOLD
    face_samples: int = SAMPLES
    cut_threshold: float = THRESHOLD
    cut_min_content: float = MIN_CONTENT
    min_frames: int = MIN_FRAMES
    workers: int = 1
    device: str = "cpu"

    def validate(self) -> None:
        if self.format not in FORMATS:
            raise BadInput(f"--format {self.format!r} is not one of {', '.join(FORMATS)}")
        if self.size < 16 or self.size % 2:
            raise BadInput(f"--size {self.size} must be an even number >= 16 (H.264 yuv420p needs even sizes)")
        if not 0 <= self.crf <= 51:
            raise BadInput(f"--crf {self.crf} is not in 0..51")
        if self.box not in BOX_RULES:
            raise BadInput(f"--box {self.box!r} is not one of {', '.join(BOX_RULES)}")
        if self.enlarge is not None and self.box == FOMM_STRETCH:
            raise BadInput(f"--enlarge does not apply to --box {FOMM_STRETCH} (it cuts the box as given)")
        if self.enlarge is not None and self.enlarge < 1.0:
            raise BadInput(f"--enlarge {self.enlarge} must be >= 1 (the crop must hold the box)")
        if self.gop < 1 or self.workers < 1 or self.face_samples < 1 or self.min_frames < 1 or self.min_crop < 0:
            raise BadInput("--gop, --workers, --face-samples and --min-frames must be >= 1, --min-crop >= 0")
        if not self.videos.is_dir():
            raise BadInput(f"--videos {self.videos}: not a folder", "pass the --out folder of `vhq download`")

    @property
    def factor(self) -> float | None:
        """The enlargement the box rule uses (None for fomm-stretch)."""
        return DEFAULT_ENLARGE[self.box] if self.enlarge is None else self.enlarge

    def params(self) -> dict:
        """Everything that changes an output, as recorded in every row."""
        return {
            "box": self.box, "size": self.size, "format": self.format, "codec": "libx264" if self.format == "mp4" else "png",
            "crf": self.crf if self.format == "mp4" else "", "preset": self.preset if self.format == "mp4" else "",
            "gop": self.gop if self.format == "mp4" else "", "pix_fmt": "yuv420p" if self.format == "mp4" else "rgb24",
            "scale_flags": "lanczos", "enlarge": "" if self.factor is None else self.factor, "min_crop": self.min_crop,
            "min_inside": self.min_inside if self.box == VHQ else "",
            "face_check": int(self.face_check), "face_threshold": self.face_threshold if self.face_check else "",
            "face_samples": self.face_samples if self.face_check else "", "face_detector": "mtcnn (facenet-pytorch)" if self.face_check else "",
            "cut_detector": "AdaptiveDetector (scenedetect)", "cut_threshold": self.cut_threshold,
            "cut_min_content": self.cut_min_content, "min_frames": self.min_frames,
        }


def write_run(manifest: Manifest, opts: Options) -> Path:
    return files.write_json(opts.out / RUN_FILE, {
        "manifest": str(Path(manifest.path).resolve()) if manifest.path else "", "manifest_fingerprint": manifest.fingerprint,
        "videos": str(opts.videos.resolve()), "params": opts.params(), "vhq_version": __version__,
    })


def read_run(crops: Path) -> dict:
    """The ``crop_run.json`` of a crop folder ({} when there is none)."""
    run = crops / RUN_FILE
    return json.loads(run.read_text()) if run.is_file() else {}
