"""LIA training data: clip discovery, the rank-strided resumable sampler, frame pairs, bad input."""

from __future__ import annotations

import pytest
import torch

from lia.train import data as D
from vhq.errors import BadInput
from vhq.io import files
from vhq.testing import synthetic
from vhq.testing.synthetic import write_clips


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("crops")
    write_clips(root / "clips", count=3, frames=12)
    write_clips(root / "png", count=1, frames=6, fmt="png")
    return root


def test_sampler_epochs_are_fresh_permutations():
    s = D.PairSampler([5] * 7, batch=7, seed=3)
    epochs = [[k.clip for k in s.step_keys(e)[0]] for e in range(3)]
    for e in epochs:
        assert sorted(e) == list(range(7))
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]
    keys = [s.key(p) for p in range(50)]
    assert all(k.source != k.driving and 0 <= k.source < 5 and 0 <= k.driving < 5 for k in keys)
    assert s.key(17) == D.PairSampler([5] * 7, batch=7, seed=3).key(17)
    assert s.key(17) != D.PairSampler([5] * 7, batch=7, seed=4).key(17)


def test_sampler_rank_strided_rounds_match_single_process():
    frames = [9, 4, 7, 12, 5]
    one = D.PairSampler(frames, batch=8, seed=0, world=1, rounds=2)
    ranks = [D.PairSampler(frames, batch=8, seed=0, rank=r, world=2, rounds=1) for r in range(2)]
    for step in range(4):
        assert one.step_keys(step) == [r.step_keys(step)[0] for r in ranks]
        flat = [k for rnd in one.step_keys(step) for k in rnd]
        assert sorted(flat) == sorted(one.key(p) for p in range(step * 8, step * 8 + 8))
    # Resuming at a step continues the same stream (exact mid-epoch resume).
    full = iter(D.PairSampler(frames, batch=4, seed=1))
    stream = [next(full) for _ in range(6)]
    resumed = iter(D.PairSampler(frames, batch=4, seed=1, start_step=3))
    assert [next(resumed) for _ in range(3)] == stream[3:]
    with pytest.raises(ValueError):
        D.PairSampler(frames, batch=6, seed=0, world=4)


def test_pairs_decode_the_requested_frames(clips_dir):
    clips = D.find_clips(clips_dir)
    assert [c.clip_id for c in clips] == ["clips/clip00", "clips/clip01", "clips/clip02", "png/clip00"]
    assert [c.frames for c in clips] == [12, 12, 12, 6]
    ds = D.FramePairs(clips, size=128)
    for key in (D.PairKey(0, 0, 11, 0), D.PairKey(1, 7, 2, 0), D.PairKey(3, 5, 1, 0)):
        pair = ds[key]
        assert pair.dtype == torch.uint8 and pair.shape == (2, 3, 128, 128)
        got = [synthetic.decode_frame_index(pair[i].permute(1, 2, 0).numpy()) for i in range(2)]
        assert got == [key.source, key.driving]
    loader = D.make_loader(ds, D.PairSampler([c.frames for c in clips], batch=2, seed=0), workers=1)
    it = iter(loader)
    batch = D.check_batch(next(it))
    assert batch.shape == (2, 2, 3, 128, 128)
    del it
    x = D.to_model_input(torch.tensor([0, 255], dtype=torch.uint8), torch.float64)
    assert x.tolist() == [-1.0, 1.0]


def test_augmentations_apply_the_same_transform_to_both_frames():
    x = torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8).expand(2, -1, -1, -1)
    out = D.augment_pair(x, ("crop", "flip", "jitter"), seed=5)
    assert out.shape == (2, 3, 56, 56) and torch.equal(out[0], out[1])
    assert torch.equal(out, D.augment_pair(x, ("crop", "flip", "jitter"), seed=5))
    assert not torch.equal(out, D.augment_pair(x, ("crop", "flip", "jitter"), seed=6))
    with pytest.raises(BadInput, match="unknown augmentation"):
        D.FramePairs([], 128, ("rotate",))


def test_split_csv_paths_are_relative_to_the_csv(clips_dir, tmp_path):
    rows = [{"clip_id": "a", "path": str(clips_dir / "clips" / "clip00.mp4"), "frames": "12"},
            {"clip_id": "b", "path": "../" + clips_dir.name + "/clips/clip01.mp4", "frames": ""}]
    split = clips_dir.parent / "split"
    files.write_csv(split / "train.csv", rows, ["clip_id", "path", "frames"])
    clips = D.find_clips(split)
    assert [(c.clip_id, c.frames) for c in clips] == [("a", 12), ("b", 12)]
    assert clips[1].path.resolve() == (clips_dir / "clips" / "clip01.mp4").resolve()
    files.write_csv(tmp_path / "bad.csv", [{"clip_id": "x", "path": "nowhere.mp4"}], ["clip_id", "path"])
    with pytest.raises(BadInput, match="nowhere.mp4"):
        D.find_clips(tmp_path / "bad.csv")


def test_split_csv_frame_counts_are_taken_from_the_list(clips_dir, tmp_path):
    rows = [{"clip_id": "a", "path": str(clips_dir / "clips" / "clip00.mp4"), "frames": "7"}]
    files.write_csv(tmp_path / "listed.csv", rows, ["clip_id", "path", "frames"])
    assert [c.frames for c in D.find_clips(tmp_path / "listed.csv")] == [7]  # no clip is opened to count its frames
    files.write_csv(tmp_path / "listed.txt", rows, ["clip_id", "path", "frames"])
    with pytest.raises(BadInput, match="listed.txt: not a split CSV"):
        D.find_clips(tmp_path / "listed.txt")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00clip_id")
    with pytest.raises(BadInput, match="binary.csv: not a readable split CSV"):
        D.find_clips(tmp_path / "binary.csv")


def test_empty_and_corrupt_datasets_name_the_problem(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="no training clips"):
        D.find_clips(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    with pytest.raises(BadInput, match="broken.mp4"):
        D.find_clips(tmp_path / "bad")
    with pytest.raises(BadInput, match="no such file"):
        D.find_clips(tmp_path / "missing")


def test_truncated_clip_fails_in_the_worker_with_the_file_name(clips_dir, tmp_path):
    clip = D.Clip("short", clips_dir / "clips" / "clip00.mp4", 40)  # the list promises more frames than the file has
    ds = D.FramePairs([clip], size=128)
    loader = D.make_loader(ds, D.PairSampler([40], batch=1, seed=0), workers=1)
    it = iter(loader)
    errors = []
    for _ in range(8):
        try:
            D.check_batch(next(it))
        except BadInput as e:
            errors.append(e)
            break
    del it
    assert errors and "clip00.mp4" in errors[0].message
