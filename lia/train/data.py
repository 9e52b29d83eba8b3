"""Training data for LIA: pairs of frames (source, driving) of one clip.

Clips are the output of ``vhq crop`` (``<id>.mp4`` or PNG frame folders), listed by a split CSV
(``vhq split``'s ``train.csv``, read by :func:`vhq.dataset.split.read_split`), a folder holding
``train.csv``, or a folder of clips. Each item decodes only its two frames (a seek to the
keyframe before each; ``vhq crop`` writes a 25-frame GOP), in DataLoader workers.

Which clip and frames a sample uses is a pure function of ``(seed, position in the sample
stream)``, never of a worker's RNG: the stream is the concatenation of per-epoch permutations of
the clips (a new permutation every epoch), training step ``t`` consumes positions ``[tB, (t+1)B)``
and chunk ``c`` of the ``W·R`` chunks of a step (``W`` ranks × ``R`` accumulation rounds) takes
positions ``tB + c + j·W·R``. So a run is the same on 1 or N processes and resumes exactly mid-epoch
from the step count alone.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vhq.dataset.split import read_split
from vhq.errors import BadInput, VhqError
from vhq.io import video

AUGMENTS = ("flip", "jitter", "crop")
CROP_FRACTION = 224 / 256  # the official TaiChi RandomCrop(224) on 256 frames
JITTER = 0.1  # brightness, contrast, saturation and hue strength (official ColorJitter(0.1, 0.1, 0.1, 0.1))


@dataclass(frozen=True)
class Clip:
    clip_id: str
    path: Path
    frames: int


class PairKey(NamedTuple):
    """One sample: a clip, two distinct frame indices, and the seed of its augmentation."""

    clip: int
    source: int
    driving: int
    aug_seed: int


def _count_frames(path: Path) -> int:
    try:
        if video.is_frame_folder(path):
            return len(video.frame_files(path))
        return video.probe(path).frames
    except VhqError as e:
        raise BadInput(f"{path}: unreadable training clip ({e.message})", hint="re-run `vhq crop` for it or drop it from the split CSV") from None


def _listed(listing: Path) -> list[Clip]:
    """The clips of a `vhq split` list; frame counts come from its ``frames`` column, else from the files."""
    if listing.suffix != ".csv":
        raise BadInput(f"{listing}: not a split CSV (a `vhq split` list ends in .csv)")
    try:
        _, listed = read_split(listing.parent, listing.stem)
    except (UnicodeDecodeError, csv.Error) as e:
        raise BadInput(f"{listing}: not a readable split CSV ({e})") from None
    return [Clip(c.clip_id, c.path, c.frames if c.frames is not None else _count_frames(c.path)) for c in listed]


def find_clips(data: str | Path, split: str = "train") -> list[Clip]:
    """The clips of ``data``: a split CSV, a folder with ``<split>.csv``, or a folder of clips.

    Raises BadInput naming the file when the list is empty, a clip is unreadable or has fewer than
    two frames.
    """
    p = Path(data)
    if p.is_file():
        clips = _listed(p)
    elif (p / f"{split}.csv").is_file():
        clips = _listed(p / f"{split}.csv")
    elif p.is_dir():
        clips = [Clip(key, path, _count_frames(path)) for key, path in video.list_videos(p).items()]
    else:
        raise BadInput(f"{p}: no such file or folder", hint="pass the `vhq split --out` folder, a split CSV or a folder of clips")
    if not clips:
        raise BadInput(f"{p}: no training clips found (no mp4 files or PNG frame folders)", hint="run `vhq crop` and `vhq split` first")
    short = [c for c in clips if c.frames < 2]
    if short:
        raise BadInput(f"{short[0].path}: a training clip needs at least 2 frames, it has {short[0].frames}", hint="re-run `vhq crop` for it or drop it from the split CSV")
    return clips


def clips_fingerprint(clips: Sequence[Clip]) -> str:
    """A short hash of the clip list (ids and frame counts), recorded in checkpoints."""
    h = hashlib.sha256()
    for c in clips:
        h.update(f"{c.clip_id}\t{c.frames}\n".encode())
    return h.hexdigest()[:16]


class PairSampler:
    """Batch sampler: for every step from ``start_step``, this rank's ``rounds`` lists of PairKeys.

    Deterministic in ``(seed, step)``; every epoch is a fresh permutation of the clips; positions
    are rank-strided (see the module docstring). Infinite.
    """

    def __init__(self, frames: Sequence[int], batch: int, seed: int, rank: int = 0, world: int = 1, rounds: int = 1, start_step: int = 0):
        if batch % (world * rounds):
            raise ValueError(f"batch {batch} is not divisible by {world} ranks × {rounds} rounds")
        self.frames = [int(n) for n in frames]
        self.batch, self.seed, self.rank, self.world, self.rounds, self.start_step = batch, seed, rank, world, rounds, start_step
        self.chunks = world * rounds
        self.per_chunk = batch // self.chunks

    @functools.lru_cache(maxsize=4)
    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch, 0x5A]).permutation(len(self.frames))

    def key(self, position: int) -> PairKey:
        """The sample at ``position`` of the stream."""
        epoch, slot = divmod(position, len(self.frames))
        clip = int(self._permutation(epoch)[slot])
        rng = np.random.default_rng([self.seed, position, 0xF7])
        a, b = rng.choice(self.frames[clip], size=2, replace=False)
        return PairKey(clip, int(a), int(b), int(rng.integers(2**31)))

    def chunk_positions(self, step: int, chunk: int) -> list[int]:
        base = step * self.batch
        return [base + chunk + j * self.chunks for j in range(self.per_chunk)]

    def step_keys(self, step: int) -> list[list[PairKey]]:
        """This rank's rounds of keys at ``step`` (round k is chunk ``k·W + rank``)."""
        return [[self.key(p) for p in self.chunk_positions(step, k * self.world + self.rank)] for k in range(self.rounds)]

    def epoch_of(self, step: int) -> float:
        return step * self.batch / len(self.frames)

    def __iter__(self) -> Iterator[list[PairKey]]:
        step = self.start_step
        while True:
            yield from self.step_keys(step)
            step += 1


def _read_frame(path: Path, index: int) -> torch.Tensor:
    frames = video.iter_frames(path, batch_size=1, start=index, count=1)
    try:
        batch = next(frames, None)
    finally:
        frames.close()
    if batch is None or batch.shape[0] != 1:
        raise BadInput(f"{path}: frame {index} is missing (truncated clip?)", hint="re-run `vhq crop` for it or drop it from the split CSV")
    return batch[0]


def resize_frames(x: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``[N, 3, H, W]`` → uint8 ``[N, 3, size, size]`` (bilinear, antialiased, rounded)."""
    if x.shape[-2:] == (size, size):
        return x
    y = F.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return y.round_().clamp_(0, 255).to(torch.uint8)


def augment_pair(x: torch.Tensor, augments: Sequence[str], seed: int) -> torch.Tensor:
    """Apply the same random crop / flip / colour jitter to both frames of ``x`` (uint8 ``[2,3,H,W]``).

    Unlike the official code's PIL branch, every jitter op takes effect (in a random order).
    """
    if not augments:
        return x
    from torchvision.transforms.v2 import functional as TF

    rng = np.random.default_rng(seed)
    h, w = x.shape[-2:]
    if "crop" in augments:
        ch, cw = round(h * CROP_FRACTION), round(w * CROP_FRACTION)
        top, left = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
        x = x[..., top : top + ch, left : left + cw]
    if "flip" in augments and rng.random() < 0.5:
        x = x.flip(-1)
    if "jitter" in augments:
        factors = {
            "brightness": rng.uniform(1 - JITTER, 1 + JITTER),
            "contrast": rng.uniform(1 - JITTER, 1 + JITTER),
            "saturation": rng.uniform(1 - JITTER, 1 + JITTER),
            "hue": rng.uniform(-JITTER, JITTER),
        }
        ops = {"brightness": TF.adjust_brightness, "contrast": TF.adjust_contrast, "saturation": TF.adjust_saturation, "hue": TF.adjust_hue}
        for name in rng.permutation(list(ops)):
            x = ops[name](x, factors[name])
    return x.contiguous()


class FramePairs(torch.utils.data.Dataset):
    """Map-style dataset indexed by :class:`PairKey`: uint8 ``[2, 3, size, size]`` (source, driving)."""

    def __init__(self, clips: Sequence[Clip], size: int, augments: Sequence[str] = ()):
        bad = [a for a in augments if a not in AUGMENTS]
        if bad:
            raise BadInput(f"unknown augmentation {bad[0]!r} (choose from {', '.join(AUGMENTS)})")
        self.clips = list(clips)
        self.size = size
        self.augments = tuple(augments)

    def __len__(self) -> int:
        return len(self.clips)

    def load(self, key: PairKey) -> torch.Tensor:
        clip = self.clips[key.clip]
        pair = torch.stack([_read_frame(clip.path, key.source), _read_frame(clip.path, key.driving)]).permute(0, 3, 1, 2)
        pair = augment_pair(pair, self.augments, key.aug_seed)
        return resize_frames(pair, self.size)

    def __getitem__(self, key: PairKey):
        try:
            return self.load(PairKey(*key))
        except VhqError as e:  # reported by the main process as a one-line error (see collate_pairs)
            return DataError(e.message, e.hint)
        except Exception as e:  # noqa: BLE001 - a decoder crash on a corrupt file
            return DataError(f"{self.clips[key[0]].path}: cannot read frames {key[1]} and {key[2]} ({e.__class__.__name__}: {e})", None)


@dataclass
class DataError:
    message: str
    hint: str | None


def collate_pairs(items: list) -> torch.Tensor | DataError:
    """Stack the pairs as uint8 ``[B, 2, 3, S, S]``, or pass on the first worker error."""
    for it in items:
        if isinstance(it, DataError):
            return it
    return torch.stack(items)


def check_batch(batch) -> torch.Tensor:
    """Raise the worker's error in the main process (``BadInput`` naming the file)."""
    if isinstance(batch, DataError):
        raise BadInput(batch.message, batch.hint or "re-run `vhq crop` for that clip or drop it from the split CSV")
    return batch


def to_model_input(frames: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """uint8 images → [-1, 1] as torchvision's ``ToTensor`` + ``Normalize(0.5, 0.5)``."""
    return (frames.to(dtype) / 255 - 0.5) / 0.5


def make_loader(dataset: FramePairs, sampler: PairSampler, workers: int, pin_memory: bool = False) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=workers,
        collate_fn=collate_pairs,
        pin_memory=pin_memory,
        persistent_workers=False,
        prefetch_factor=2 if workers > 0 else None,
    )


def fixed_pairs(clips: Sequence[Clip], count: int) -> list[PairKey]:
    """Pairs shown in the sample grids: the first ``count`` clips (cycled), frame 0 and the middle frame."""
    out = []
    for i in range(count):
        c = i % len(clips)
        n = clips[c].frames
        out.append(PairKey(c, 0, max(1, n // 2) if n > 1 else 0, 0))
    return out
