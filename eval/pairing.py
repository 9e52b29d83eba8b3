"""Find prediction and ground-truth videos and match them by key.

A key is the relative path without extension (``id10280/clip01`` for ``id10280/clip01.mp4`` or
the PNG folder ``id10280/clip01/``). Everything is probed before any scoring starts, so a bad
input fails fast with a message naming the file and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from eval.encoding import Encoding, describe
from vhq.errors import BadInput, MediaError
from vhq.io import files, video
from vhq.io.cache import file_digest

SHOW = 10


@dataclass(frozen=True)
class Pair:
    key: str
    pred: Path
    gt: Path
    frames: int  # frames scored (after the offset and --truncate)
    gt_frames: int
    pred_frames: int
    width: int  # GT native size
    height: int
    offset: int = 0  # the GT frame that prediction frame 0 shows (negative: the prediction leads by -offset frames)
    gt_fps: float | None = None
    pred_fps: float | None = None
    gt_encoding: Encoding | None = None
    pred_encoding: Encoding | None = None
    pred_width: int = 0
    pred_height: int = 0

    @property
    def gt_start(self) -> int:
        return max(self.offset, 0)

    @property
    def pred_start(self) -> int:
        return max(-self.offset, 0)


@dataclass(frozen=True)
class PairSet:
    pairs: list[Pair]
    missing: list[str]  # GT keys with no prediction (only when allowed)
    extra: list[str]  # prediction keys with no GT (ignored when allowed)
    truncated: list[str]  # keys whose aligned frame counts differed (only when --truncate)
    offset: int = 0
    offset_source: str = "none"  # "explicit" (--offset), "detected" (the frame-1 convention) or "none"
    fps_mismatch: list[str] = field(default_factory=list)  # keys scored despite differing rates (--allow-fps-mismatch)

    @property
    def frames(self) -> int:
        return sum(p.frames for p in self.pairs)

    def native_size(self) -> str:
        sizes = sorted({(p.width, p.height) for p in self.pairs})
        return ";".join(f"{w}x{h}" for w, h in sizes)

    def lossy(self) -> list[Pair]:
        return [p for p in self.pairs if p.pred_encoding is not None and not p.pred_encoding.lossless]

    def params(self, truncate: bool) -> dict:
        """Settings that decide which frames are compared: part of every row's ``params``."""
        out = {"resolution": self.native_size(), "offset": self.offset, "truncate": truncate, "fps": _values(p.gt_fps for p in self.pairs)}
        if self.fps_mismatch:
            out["fps_pred"] = _values(p.pred_fps for p in self.pairs)
        return out

    def details(self) -> dict:
        """What the inputs were: part of every row's ``details``."""
        return {
            "offset_source": self.offset_source,
            "missing_videos": len(self.missing), "extra_videos": len(self.extra), "truncated_videos": len(self.truncated),
            "gt_fps": _values(p.gt_fps for p in self.pairs), "pred_fps": _values(p.pred_fps for p in self.pairs),
            "fps_mismatch_videos": len(self.fps_mismatch),
            "gt_encoding": _values(p.gt_encoding.label() for p in self.pairs if p.gt_encoding),
            "pred_encoding": _values(p.pred_encoding.label() for p in self.pairs if p.pred_encoding),
            "pred_resolution": ";".join(sorted({f"{p.pred_width}x{p.pred_height}" for p in self.pairs})),
            "lossy_pred_videos": len(self.lossy()),
        }


def _values(values) -> str:
    """Distinct values, sorted, ';'-joined (one value for a uniform set); unknown rates as 'unknown'."""
    out = sorted({"unknown" if v is None else (f"{v:g}" if isinstance(v, float) else str(v)) for v in values})
    return ";".join(out)


def _listing(keys: list[str]) -> str:
    more = f" … and {len(keys) - SHOW} more" if len(keys) > SHOW else ""
    return ", ".join(keys[:SHOW]) + more


def _duplicates(root: Path, found: dict[str, Path]) -> list[str]:
    """Keys that name more than one video (``v0.mp4`` beside ``v0/`` or ``v0.mkv``): each would hide the others."""
    seen: dict[str, list[str]] = {}
    for d in sorted({p.parent for p in found.values()}):
        for p in sorted(d.iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_dir() and video.frame_files(p):
                key = p.relative_to(root).as_posix()
            elif p.is_file() and p.suffix.lower() in video.VIDEO_EXTS:
                key = p.relative_to(root).with_suffix("").as_posix()
            else:
                continue
            seen.setdefault(key, []).append(p.name + ("/" if p.is_dir() else ""))
    return [f"{k} ({', '.join(names)})" for k, names in sorted(seen.items()) if len(names) > 1]


def _root(path: Path, what: str) -> dict[str, Path]:
    if not path.exists():
        raise BadInput(f"{path}: {what} folder does not exist")
    if not path.is_dir():
        raise BadInput(f"{path}: {what} must be a folder of mp4 files or PNG-frame folders, not a file")
    found = video.list_videos(path)
    if not found and video.frame_files(path):
        return {path.name: path}  # the folder itself is one frame folder
    if not found:
        raise MediaError(f"{path}: {what} folder holds no videos (mp4 files or PNG/JPEG frame folders)")
    dups = _duplicates(path, found)
    if dups:
        raise BadInput(f"{path}: {len(dups)} keys name more than one video: {_listing(dups)}", "keep one video per key (a key is the relative path without extension)")
    return found


def _rate(info: video.VideoInfo, folder_fps: float | None) -> float | None:
    """A video's frame rate; a frame folder's is ``--fps`` (None when not given: it follows its pair)."""
    if info.kind == "frames":
        return folder_fps
    return info.fps or None


def _rates_differ(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) > 1e-3 * max(a, b)


def _starts_at_frame_one(pred: Path, gt: Path) -> bool:
    """Whether prediction frame 0 is nearer GT frame 1 than GT frame 0 (LIA/FOMM outputs that skip the source frame)."""
    p = next(video.iter_frames(pred, batch_size=1, count=1)).to(torch.float64)
    g = next(video.iter_frames(gt, batch_size=2, count=2)).to(torch.float64)
    if g.shape[0] < 2 or p.shape[1:] != g.shape[1:]:
        return False
    d0, d1 = (p[0] - g[0]).abs().mean(), (p[0] - g[1]).abs().mean()
    return bool(d1 < d0)


def match(pred_root, gt_root, *, allow_missing: bool = False, truncate: bool = False, resize: bool = False,
          offset: int | None = None, fps: float | None = None, allow_fps_mismatch: bool = False) -> PairSet:
    """Match pred/GT by key, probe both sides, align frames, check frame counts, sizes and rates.

    ``offset`` K pairs prediction frame i with GT frame i+K. Without it, frame counts must agree;
    with ``truncate`` and no offset, the frame-1 convention (every prediction one frame shorter
    than its GT and its first frame nearest GT frame 1) is detected, anything else is refused.
    """
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
    if fps is not None and fps <= 0:
        raise BadInput(f"--fps {fps:g}: must be positive")
    infos = {}
    for k in keys:
        gi, pi = video.probe(gts[k]), video.probe(preds[k])
        for info in (gi, pi):
            if info.frames < 1:
                raise MediaError(f"{info.path}: video has no frames")
        infos[k] = (gi, pi)
    rates = {k: (_rate(gi, fps), _rate(pi, fps)) for k, (gi, pi) in infos.items()}
    fps_mismatch = [k for k, (g, p) in rates.items() if _rates_differ(g, p)]
    if fps_mismatch and not allow_fps_mismatch:
        shown = [f"{k} (pred {rates[k][1]:g} fps, GT {rates[k][0]:g} fps)" for k in fps_mismatch]
        raise BadInput(f"{pred_root}: frame rate differs from the GT for {len(fps_mismatch)} videos: {_listing(shown)}",
                       "frames would pair up at different times; re-render at the GT rate, or pass --allow-fps-mismatch to score anyway (recorded)")
    source = "explicit" if offset is not None else "none"
    if offset is None:
        offset = 0
        if truncate and any(gi.frames != pi.frames for gi, pi in infos.values()):
            if all(pi.frames == gi.frames - 1 for gi, pi in infos.values()) and all(_starts_at_frame_one(pi.path, gi.path) for gi, pi in infos.values()):
                offset, source = 1, "detected"
            else:
                raise BadInput(f"{pred_root}: frame counts differ from the GT and --truncate needs to know how the frames line up",
                               "pass --offset K (prediction frame i shows GT frame i+K; 1 for outputs that skip the source frame, 0 to pair from the start)")
    pairs, mism, sizes, truncated = [], [], [], []
    for k in keys:
        gi, pi = infos[k]
        gs, ps = max(offset, 0), max(-offset, 0)
        g_n, p_n = gi.frames - gs, pi.frames - ps
        if min(g_n, p_n) < 1:
            raise BadInput(f"{pi.path}: --offset {offset} leaves no frame to score (pred {pi.frames}, GT {gi.frames} frames)")
        n = g_n
        if g_n != p_n:
            if not truncate:
                mism.append(f"{k} (pred {pi.frames}, GT {gi.frames}" + (f", offset {offset})" if offset else ")"))
            else:
                truncated.append(k)
                n = min(g_n, p_n)
        if (gi.width, gi.height) != (pi.width, pi.height) and not resize:
            sizes.append(f"{k} (pred {pi.width}x{pi.height}, GT {gi.width}x{gi.height})")
        g_rate, p_rate = rates[k]
        pairs.append(Pair(k, pi.path, gi.path, n, gi.frames, pi.frames, gi.width, gi.height, offset,
                          g_rate if g_rate is not None else p_rate, p_rate if p_rate is not None else g_rate,
                          describe(gi), describe(pi), pi.width, pi.height))
    if mism:
        raise BadInput(f"{pred_root}: frame counts differ from the GT for {len(mism)} videos: {_listing(mism)}",
                       "fix the predictions, or pass --truncate --offset K to score the aligned common frames")
    if sizes:
        raise BadInput(f"{pred_root}: frame size differs from the GT for {len(sizes)} videos: {_listing(sizes)}", "pass --size N to resize both sides to NxN")
    return PairSet(pairs, missing, extra, truncated, offset, source, fps_mismatch)


def fingerprint(pairs: list[Pair]) -> str:
    """Hash of the scored GT keys, their content digests and frame counts (and first frame, when not 0): names the test set exactly."""
    parts = []
    for p in sorted(pairs, key=lambda p: p.key):
        parts += [p.key, file_digest(p.gt), str(p.frames)] + ([f"from {p.gt_start}"] if p.gt_start else [])
    return files.sha256_strings(parts)
