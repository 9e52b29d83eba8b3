"""Clip sampling, decoding and preprocessing for the video-distribution metrics.

A :class:`ClipProtocol` pins everything that changes FVD / video-FID numbers (docs/eval-video.md):
which clip is taken from each real and generated video, its length and stride, how frames
are resized and mapped to the backbone's value range, covariance normalisation and trials.
Protocols:

============ ========================================================================================
stylegan-v   FVD default (``fvd2048_16f``): 16 frames; real = one seeded random clip per video, fake =
             first 16 frames; first 2048 videos of each set; direct bilinear resize to 224×224
             (align_corners=False, no antialias) of the 0–255 values, then x/255·2−1; 1/N covariance.
digan        DIGAN / VideoGPT: real = every non-overlapping 16-frame chunk, fake = first 16 frames;
             10 trials of ≤2048 random clips per set (seed 42), mean ± std; shorter side → 224
             bilinear + centre crop, (x/255 − 0.5)·2; 1/(N−1) covariance.
tats         TATS: real = one seeded random clip per video, fake = first 16 frames; direct 224×224
             bilinear, 2x/255 − 1; 1/(N−1) covariance.
g3an         video FID (G3AN / ImaGINator / LIA): centre 16 frames (start = ⌊n/2⌋ − 8) of every
             video; PIL bilinear resize to 112×112 (antialiased when shrinking); 0–255 minus the
             ActivityNet mean, RGB; 1/(N−1) covariance. ``first_frames=100`` is LIA's
             cross-video option (videos cut to their first 100 frames first).
cd-fvd       content-debiased FVD (Ge et al., CVPR 2024; ``fvd_videomae``): one seeded random 16-frame
             clip per real and generated video; shorter side → ``clip_resolution`` (256, or 128 as
             some published statistics) with antialiased bilinear + centre crop, ×255 truncated to
             uint8 (cd-fvd's loader); then x/255 (no mean/std) and direct bilinear 224×224;
             VideoMAE-v2 ViT-g features; 1/N covariance; scipy ``sqrtm``, real part
             (``sqrtm_real``). ``resample_to=2048`` is cd-fvd's ``n_fake`` rule (see below).
cd-fvd-i3d   the same clips and loader on I3D (direct 224 bilinear of the uint8 clip, 2x/255 − 1).
============ ========================================================================================

cd-fvd's ``n_fake=2048`` draws the generated set again and again (new random clips, new order)
until it has 2048 clips, so a set of 500 videos counts most of them four times. That rule is
off unless ``resample_to`` is set; the clip record then lists every draw.

Random offsets come from a generator seeded by (seed, video key), so a clip does not depend on
how videos are split across ranks or on which other videos are in the set.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vhq.errors import BadInput
from vhq.io import files, video

ACTIVITYNET_MEAN = (114.7748, 107.7354, 99.4750)


@dataclass(frozen=True)
class ClipProtocol:
    name: str
    backbone: str  # "i3d" | "r3dx101" | "videomae_g"
    frames: int = 16
    stride: int = 1
    real_clips: str = "random"  # "random" | "first" | "center" | "chunks"
    fake_clips: str = "first"
    max_videos: int | None = None  # take the first N videos (sorted keys) of each set
    clips_per_trial: int | None = None  # random subset of clips per trial (DIGAN 2048)
    trials: int = 1
    resize: str = "direct_bilinear"  # "direct_bilinear" | "short_side_crop_bilinear" | "pil_bilinear" | "aa_crop_uint8_then_bilinear"
    size: int = 224
    value_path: str = "x/255*2-1"  # "x/255*2-1" | "(x/255-0.5)*2" | "x-activitynet_mean" | "x/255"
    unbiased: bool = True
    first_frames: int | None = None
    seed: int = 0
    clip_resolution: int | None = None  # aa_crop_uint8_then_bilinear: the loader's square crop (cd-fvd 128 | 256)
    resample_to: int | None = None  # cd-fvd's n_fake: draw the generated set until it gives this many clips
    fd_method: str = ""  # pinned Fréchet method ("" : the run's --fd-method)

    @property
    def span(self) -> int:
        """Frames a clip covers in the source video."""
        return (self.frames - 1) * self.stride + 1

    def record(self) -> dict:
        """Every protocol parameter, flat, for summary rows and cache keys."""
        return dataclasses.asdict(self)


PROTOCOLS: dict[str, ClipProtocol] = {
    "stylegan-v": ClipProtocol("stylegan-v", "i3d", real_clips="random", fake_clips="first", max_videos=2048, unbiased=False),
    "digan": ClipProtocol(
        "digan", "i3d", real_clips="chunks", fake_clips="first", clips_per_trial=2048, trials=10,
        resize="short_side_crop_bilinear", value_path="(x/255-0.5)*2", seed=42,
    ),
    "tats": ClipProtocol("tats", "i3d", real_clips="random", fake_clips="first", clips_per_trial=2048),
    "g3an": ClipProtocol(
        "g3an", "r3dx101", real_clips="center", fake_clips="center", resize="pil_bilinear", size=112,
        value_path="x-activitynet_mean",
    ),
    "cd-fvd": ClipProtocol(
        "cd-fvd", "videomae_g", real_clips="random", fake_clips="random", resize="aa_crop_uint8_then_bilinear",
        clip_resolution=256, value_path="x/255", unbiased=False, fd_method="sqrtm_real",
    ),
    "cd-fvd-i3d": ClipProtocol(
        "cd-fvd-i3d", "i3d", real_clips="random", fake_clips="random", resize="aa_crop_uint8_then_bilinear",
        clip_resolution=256, unbiased=False, fd_method="sqrtm_real",
    ),
}
FVD_PROTOCOLS = tuple(k for k, p in PROTOCOLS.items() if p.backbone == "i3d")
FID_PROTOCOLS = tuple(k for k, p in PROTOCOLS.items() if p.backbone == "r3dx101")
VIDEOMAE_PROTOCOLS = tuple(k for k, p in PROTOCOLS.items() if p.backbone == "videomae_g")
CLIP_RESOLUTIONS = (128, 256)


def get_protocol(name: str, **overrides) -> ClipProtocol:
    """A named protocol with explicit overrides (``None`` values leave the default)."""
    if name not in PROTOCOLS:
        raise BadInput(f"unknown clip protocol {name!r}", f"choose one of: {', '.join(PROTOCOLS)}")
    changes = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(changes) - {f.name for f in dataclasses.fields(ClipProtocol)}
    if unknown:
        raise BadInput(f"unknown protocol option(s): {', '.join(sorted(unknown))}")
    p = dataclasses.replace(PROTOCOLS[name], **changes)
    if p.frames < 1 or p.stride < 1 or p.trials < 1:
        raise BadInput(f"protocol {p.name}: frames, stride and trials must be >= 1")
    if p.clip_resolution is not None and p.resize != "aa_crop_uint8_then_bilinear":
        raise BadInput(f"protocol {p.name}: a clip resolution applies only to the cd-fvd loader (protocols {', '.join(k for k, q in PROTOCOLS.items() if q.clip_resolution)})")
    if p.resize == "aa_crop_uint8_then_bilinear" and p.clip_resolution not in CLIP_RESOLUTIONS:
        raise BadInput(f"protocol {p.name}: clip resolution {p.clip_resolution}", f"choose one of: {', '.join(map(str, CLIP_RESOLUTIONS))} (cd-fvd's published statistics)")
    if p.resample_to is not None and p.resample_to < 2:
        raise BadInput(f"protocol {p.name}: resample_to must be >= 2, got {p.resample_to}")
    return p


@dataclass(frozen=True)
class Clip:
    key: str
    path: Path
    start: int
    frames: int
    stride: int


def _video_rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, int(files.sha256_strings([key])[:15], 16)])


def usable_length(n: int, protocol: ClipProtocol) -> int:
    return min(n, protocol.first_frames) if protocol.first_frames else n


def clip_starts(key: str, n_frames: int, mode: str, protocol: ClipProtocol) -> list[int]:
    """Start frames of the clips taken from one video of ``n_frames`` frames."""
    n = usable_length(n_frames, protocol)
    span = protocol.span
    if n < span:
        return []
    if mode == "first":
        return [0]
    if mode == "center":
        return [max(0, n // 2 - span // 2)]
    if mode == "random":
        return [int(_video_rng(protocol.seed, key).integers(0, n - span + 1))]
    if mode == "chunks":
        return list(range(0, n - span + 1, protocol.frames * protocol.stride))
    raise BadInput(f"unknown clip sampling {mode!r}", "choose one of: first, center, random, chunks")


def select_videos(videos: dict[str, Path], protocol: ClipProtocol) -> dict[str, Path]:
    keys = sorted(videos)
    if protocol.max_videos:
        keys = keys[: protocol.max_videos]
    return {k: videos[k] for k in keys}


def plan_clips(videos: dict[str, Path], protocol: ClipProtocol, role: str, lengths: dict[str, int] | None = None) -> list[Clip]:
    """Every clip of one set (``role`` "real" or "fake"); refuses sets with too-short videos.

    ``lengths`` (key → frame count) skips probing when the caller already knows them.
    """
    mode = protocol.real_clips if role == "real" else protocol.fake_clips
    chosen = select_videos(videos, protocol)
    clips: list[Clip] = []
    short: list[str] = []
    known: dict[str, int] = {}
    for key, path in chosen.items():
        n = known[key] = lengths[key] if lengths and key in lengths else video.probe(path).frames
        starts = clip_starts(key, n, mode, protocol)
        if not starts:
            short.append(f"{path} ({n} frames)")
        clips += [Clip(key, Path(path), s, protocol.frames, protocol.stride) for s in starts]
    if role == "fake" and protocol.resample_to and not short:
        clips = resample_clips(chosen, {c.key: c for c in clips}, known, mode, protocol)
    if short:
        need = protocol.span
        raise BadInput(
            f"{len(short)} {'real' if role == 'real' else 'generated'} video(s) shorter than the {need}-frame clip of protocol {protocol.name}: " + ", ".join(short[:5]) + (" …" if len(short) > 5 else ""),
            "remove or regenerate them; every video must have at least as many frames as the clip",
        )
    return clips


def resample_clips(chosen: dict[str, Path], first: dict[str, Clip], lengths: dict[str, int], mode: str, protocol: ClipProtocol) -> list[Clip]:
    """cd-fvd's ``n_fake`` rule: passes over the set, each in a new seeded order with new clips, cut at ``resample_to``.

    Pass 0 takes each video's usual clip; pass p > 0 draws its starts with the key ``<key>#p``.
    """
    keys = sorted(chosen)
    target = protocol.resample_to
    out: list[Clip] = []
    for p in range(-(-target // len(keys))):
        order = _video_rng(protocol.seed, f"resample pass {p}").permutation(len(keys))
        for i in order:
            key = keys[i]
            if p == 0:
                clip = first[key]
            else:
                start = clip_starts(f"{key}#{p}", lengths[key], mode, protocol)[0]
                clip = Clip(key, Path(chosen[key]), start, protocol.frames, protocol.stride)
            out.append(clip)
            if len(out) == target:
                return out
    return out


def write_clip_record(dest: str | os.PathLike, clips: Sequence[Clip], protocol: ClipProtocol, role: str) -> Path:
    """The sampled clips as CSV (key, path, start, frames, stride, seed) — the run's record."""
    rows = [{"role": role, "key": c.key, "path": str(c.path), "start": c.start, "frames": c.frames, "stride": c.stride, "protocol": protocol.name, "seed": protocol.seed} for c in clips]
    return files.write_csv(dest, rows, ["role", "key", "path", "start", "frames", "stride", "protocol", "seed"])


# ---------------------------------------------------------------- decoding and preprocessing


def read_clip(clip: Clip) -> torch.Tensor:
    """Decode only the clip's frames: uint8 ``[T, H, W, 3]``."""
    span = (clip.frames - 1) * clip.stride + 1
    frames = torch.cat(list(video.iter_frames(clip.path, batch_size=span, start=clip.start, count=span)))
    frames = frames[:: clip.stride]
    if frames.shape[0] != clip.frames:
        raise BadInput(f"{clip.path}: decoded {frames.shape[0]} frames from {clip.start}, the clip needs {clip.frames}")
    return frames


def _pil_resize(frames: torch.Tensor, size: int) -> torch.Tensor:
    from PIL import Image

    out = [np.asarray(Image.fromarray(f).resize((size, size), Image.BILINEAR)) for f in frames.numpy()]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float()


def short_side_size(h: int, w: int, size: int) -> tuple[int, int]:
    """(H', W') with the shorter side ``size`` and the longer side rounded up."""
    scale = size / min(h, w)
    return (size, int(np.ceil(w * scale))) if h < w else (int(np.ceil(h * scale)), size)


def centre_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
    return x[..., top : top + size, left : left + size]


def cdfvd_loader_clip(frames: torch.Tensor, resolution: int) -> torch.Tensor:
    """cd-fvd's video loader: uint8 ``[T, H, W, 3]`` → uint8 ``[T, R, R, 3]``.

    x/255 in float32, shorter side → R (bilinear, antialias, align_corners=False, longer side
    rounded up), centre crop, ×255 and truncation to uint8: a value that lands on 2.9999998
    becomes 2, exactly as the loader's ``(video * 255).byte()``.
    """
    x = frames.permute(0, 3, 1, 2).float() / 255.0
    x = F.interpolate(x, size=short_side_size(*x.shape[2:], resolution), mode="bilinear", align_corners=False, antialias=True)
    x = centre_crop(x, resolution)
    return (x * 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def preprocess_clip(frames: torch.Tensor, protocol: ClipProtocol) -> torch.Tensor:
    """uint8 ``[T, H, W, 3]`` → float ``[3, T, S, S]`` on the protocol's resize and value path."""
    size = protocol.size
    if protocol.resize == "aa_crop_uint8_then_bilinear":
        frames = cdfvd_loader_clip(frames, protocol.clip_resolution)
    if protocol.resize == "pil_bilinear":
        x = _pil_resize(frames, size)
    else:
        x = frames.permute(0, 3, 1, 2).float()  # [T, 3, H, W], 0..255
        if protocol.value_path == "x/255":
            x = x / 255.0  # cd-fvd's VideoMAE input scales before its resize
        h, w = x.shape[2:]
        if protocol.resize in ("direct_bilinear", "aa_crop_uint8_then_bilinear"):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
        elif protocol.resize == "short_side_crop_bilinear":
            x = F.interpolate(x, size=short_side_size(h, w, size), mode="bilinear", align_corners=False, antialias=False)
            x = centre_crop(x, size)
        else:
            raise BadInput(f"unknown resize mode {protocol.resize!r}")
    # In place (x is this function's own float copy): the same float32 operations, no new clip-sized tensors.
    if protocol.value_path == "x/255*2-1":
        x = x.div_(255.0).mul_(2.0).sub_(1.0)
    elif protocol.value_path == "(x/255-0.5)*2":
        x = x.div_(255.0).sub_(0.5).mul_(2.0)
    elif protocol.value_path == "x-activitynet_mean":
        x = x.sub_(torch.tensor(ACTIVITYNET_MEAN).view(1, 3, 1, 1))
    elif protocol.value_path == "x/255":
        pass  # scaled before the resize
    else:
        raise BadInput(f"unknown value path {protocol.value_path!r}")
    return x.permute(1, 0, 2, 3).contiguous()


def load_clip(clip: Clip, protocol: ClipProtocol) -> torch.Tensor:
    return preprocess_clip(read_clip(clip), protocol)


def iter_loaded_clips(clips: Sequence[Clip], protocol: ClipProtocol, workers: int = 2, ahead: int = 4) -> Iterator[tuple[Clip, torch.Tensor]]:
    """Every clip preprocessed (``[3, T, S, S]``), in order.

    Up to ``ahead`` clips are decoded and resized in ``workers`` threads while the caller runs the
    network on earlier ones (PyAV and torch release the GIL), so the input pipeline overlaps it.
    """
    ahead = max(ahead, workers, 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        it = iter(clips)
        pending = deque((c, pool.submit(load_clip, c, protocol)) for c in islice(it, ahead))
        while pending:
            c, fut = pending.popleft()
            x = fut.result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(load_clip, nxt, protocol)))
            yield c, x


def iter_clip_batches(clips: Sequence[Clip], protocol: ClipProtocol, batch_size: int = 8, workers: int = 2) -> Iterator[tuple[list[Clip], torch.Tensor]]:
    """Preprocessed ``[B, 3, T, S, S]`` batches; decoding runs ahead in threads."""
    if batch_size < 1:
        raise BadInput(f"batch size must be >= 1, got {batch_size}")
    stream = iter_loaded_clips(clips, protocol, workers, ahead=2 * batch_size)
    while batch := list(islice(stream, batch_size)):
        yield [c for c, _ in batch], torch.stack([x for _, x in batch])


BATCH_CANDIDATES = (1, 2, 4, 8)


class BatchSizeChoice:
    """The batch size of a network on a device, chosen by timing the first batches of the real work.

    The first batch (of the smallest candidate) warms the backend up and is not counted; then the
    candidates run once each, smallest first, and the fastest per clip is kept (the smaller on a
    tie). Trying stops at the first candidate slower per clip than the one before it: larger ones
    only cost more memory. On CPU a batch can be slower than single clips (oneDNN's blocking),
    on a GPU it is usually faster, so neither is assumed. ``timer`` is injectable for tests.
    """

    def __init__(self, candidates: Sequence[int] = BATCH_CANDIDATES, timer: Callable[[], float] = time.perf_counter):
        if not candidates or min(candidates) < 1:
            raise BadInput(f"batch size candidates must be >= 1, got {list(candidates)}")
        self.candidates = sorted(set(candidates))
        self.timer = timer
        self.seconds_per_clip: dict[int, float] = {}
        self.warm = False
        self.chosen: int | None = None

    def next_size(self) -> int:
        if self.chosen is not None:
            return self.chosen
        if not self.warm:
            return self.candidates[0]
        return self.candidates[len(self.seconds_per_clip)]

    def run(self, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, size: int) -> torch.Tensor:
        """``fn(x)`` for a batch of ``len(x)`` clips asked for as ``size``, timed while choosing."""
        if self.chosen is not None:
            return fn(x)
        t0 = self.timer()
        out = fn(x)
        elapsed = self.timer() - t0
        if not self.warm:
            self.warm = True
        elif len(x) == size:  # a short last batch says nothing about its size
            self._record(size, elapsed / size)
        return out

    def _record(self, size: int, seconds: float) -> None:
        previous = self.seconds_per_clip[self.candidates[len(self.seconds_per_clip) - 1]] if self.seconds_per_clip else None
        self.seconds_per_clip[size] = seconds
        done = len(self.seconds_per_clip) == len(self.candidates)
        if done or (previous is not None and seconds > previous):
            self.chosen = min(self.seconds_per_clip, key=lambda b: (self.seconds_per_clip[b], b))


_CHOSEN_BATCH: dict[tuple, int] = {}  # (device, network, clip shape) → batch size, for this process


def extract_features(model: torch.nn.Module, clips: Sequence[Clip], protocol: ClipProtocol, device=None, batch_size: int | None = None, workers: int = 2,
                     progress_desc: str | None = None, choice: BatchSizeChoice | None = None) -> np.ndarray:
    """Backbone features of every clip, in ``clips`` order: float64 ``[N, d]``.

    ``batch_size=None`` picks clips per network call by measurement (:class:`BatchSizeChoice`)
    on the first clips, once per device, network and clip shape in a process; a number fixes it.
    Features agree across batch sizes to float32 rounding (about 1e-6 of their scale).
    """
    from vhq.console import progress

    device = torch.device(device or "cpu")
    if batch_size is not None and batch_size < 1:
        raise BadInput(f"batch size must be >= 1, got {batch_size}")
    key = (str(device), type(model).__qualname__, protocol.frames, protocol.size)
    if batch_size is None and choice is None and key in _CHOSEN_BATCH:
        batch_size = _CHOSEN_BATCH[key]
    if batch_size is None:
        choice = choice or BatchSizeChoice()
    largest = batch_size or max(choice.candidates)

    def forward(x: torch.Tensor) -> torch.Tensor:
        return model(x.to(device)).double().cpu()

    out: list[torch.Tensor] = []
    stream = progress(iter_loaded_clips(clips, protocol, workers, ahead=2 * largest), total=len(clips), desc=progress_desc or f"{protocol.backbone} features")
    with torch.inference_mode():
        while batch := list(islice(stream, size := batch_size or choice.next_size())):
            x = torch.stack([b for _, b in batch])
            out.append(forward(x) if batch_size else choice.run(forward, x, size))
    if choice is not None and choice.chosen is not None:
        _CHOSEN_BATCH[key] = choice.chosen
    if not out:
        return np.zeros((0, 0))
    return torch.cat(out).numpy()
