"""Find prediction and ground-truth videos and match them by key.

A key is the relative path without extension (``id10280/clip01`` for ``id10280/clip01.mp4`` or
the PNG folder ``id10280/clip01/``). Everything is probed before any scoring starts, so a bad
input fails fast with a message naming the file and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vhq.errors import BadInput, MediaError
from vhq.io import files, video
from vhq.io.cache import file_digest

SHOW = 10


@dataclass(frozen=True)
class Pair:
    key: str
    pred: Path
    gt: Path
    frames: int  # frames scored (after --truncate)
    gt_frames: int
    pred_frames: int
    width: int  # GT native size
    height: int


@dataclass(frozen=True)
class PairSet:
    pairs: list[Pair]
    missing: list[str]  # GT keys with no prediction (only when allowed)
    extra: list[str]  # prediction keys with no GT (ignored when allowed)
    truncated: list[str]  # keys whose frame counts differed (only when --truncate)

    @property
    def frames(self) -> int:
        return sum(p.frames for p in self.pairs)

    def native_size(self) -> str:
        sizes = sorted({(p.width, p.height) for p in self.pairs})
        return ";".join(f"{w}x{h}" for w, h in sizes)


def _listing(keys: list[str]) -> str:
    more = f" … and {len(keys) - SHOW} more" if len(keys) > SHOW else ""
    return ", ".join(keys[:SHOW]) + more


def _root(path: Path, what: str) -> dict[str, Path]:
    if not path.exists():
        raise BadInput(f"{path}: {what} folder does not exist")
    if not path.is_dir():
        raise BadInput(f"{path}: {what} must be a folder of mp4 files or PNG-frame folders, not a file")
    found = video.list_videos(path)
    if not found and video.frame_files(path):
        found = {path.name: path}  # the folder itself is one frame folder
    if not found:
        raise MediaError(f"{path}: {what} folder holds no videos (mp4 files or PNG/JPEG frame folders)")
    return found


def match(pred_root, gt_root, *, allow_missing: bool = False, truncate: bool = False, resize: bool = False) -> PairSet:
    """Match pred/GT by key, probe both sides, check frame counts and sizes."""
    pred_root, gt_root = Path(pred_root), Path(gt_root)
    preds, gts = _root(pred_root, "--pred"), _root(gt_root, "--gt")
    missing = sorted(set(gts) - set(preds))
    extra = sorted(set(preds) - set(gts))
    if missing and not allow_missing:
        raise BadInput(
            f"{pred_root}: {len(missing)} of {len(gts)} GT videos have no prediction: {_listing(missing)}",
            "predict every test video, or pass --allow-missing to score only the matched ones",
        )
    if extra and not allow_missing:
        raise BadInput(
            f"{pred_root}: {len(extra)} predictions have no GT video in {gt_root}: {_listing(extra)}",
            "remove them, or pass --allow-missing to ignore them",
        )
    keys = sorted(set(gts) & set(preds))
    if not keys:
        raise BadInput(f"{pred_root}: no prediction matches a GT key in {gt_root}")
    pairs, mism, sizes, truncated = [], [], [], []
    for k in keys:
        gi, pi = video.probe(gts[k]), video.probe(preds[k])
        for info in (gi, pi):
            if info.frames < 1:
                raise MediaError(f"{info.path}: video has no frames")
        n = gi.frames
        if gi.frames != pi.frames:
            if not truncate:
                mism.append(f"{k} (pred {pi.frames}, GT {gi.frames})")
            else:
                truncated.append(k)
                n = min(gi.frames, pi.frames)
        if (gi.width, gi.height) != (pi.width, pi.height) and not resize:
            sizes.append(f"{k} (pred {pi.width}x{pi.height}, GT {gi.width}x{gi.height})")
        pairs.append(Pair(k, pi.path, gi.path, n, gi.frames, pi.frames, gi.width, gi.height))
    if mism:
        raise BadInput(f"{pred_root}: frame counts differ from the GT for {len(mism)} videos: {_listing(mism)}", "fix the predictions, or pass --truncate to score the common prefix")
    if sizes:
        raise BadInput(f"{pred_root}: frame size differs from the GT for {len(sizes)} videos: {_listing(sizes)}", "pass --size N to resize both sides to NxN")
    return PairSet(pairs, missing, extra, truncated)


def fingerprint(pairs: list[Pair]) -> str:
    """Hash of the scored GT keys, their content digests and frame counts: names the test set exactly."""
    parts = []
    for p in sorted(pairs, key=lambda p: p.key):
        parts += [p.key, file_digest(p.gt), str(p.frames)]
    return files.sha256_strings(parts)
