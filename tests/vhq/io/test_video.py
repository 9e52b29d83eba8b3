import subprocess
import sys

import numpy as np
import pytest
import torch

from vhq.errors import BadInput, MediaError
from vhq.io import video
from vhq.testing import synthetic


def test_round_trip_mp4(tmp_path):
    spec = synthetic.SyntheticVideo(width=160, height=96, frames=30)
    truth = np.concatenate(list(spec.iter_batches()))
    path = video.write_video(tmp_path / "a.mp4", torch.from_numpy(truth), fps=25, crf=12)
    info = video.probe(path)
    assert (info.width, info.height, info.frames, info.fps, info.codec) == (160, 96, 30, 25.0, "h264")
    back = video.read_frames(path)
    assert back.shape == (30, 96, 160, 3) and back.dtype == torch.uint8
    err = (back.float() - torch.from_numpy(truth).float()).abs().mean().item()
    assert err < 2.0, f"mean abs error {err} exceeds codec tolerance"
    assert [synthetic.decode_frame_index(f.numpy()) for f in back] == list(range(30))
    assert not list(tmp_path.glob(".*part*")), "temporary files left behind"


def test_batches_start_count(synthetic_clip):
    path, spec = synthetic_clip
    batches = list(video.iter_frames(path, batch_size=7, start=23, count=12))
    assert [b.shape[0] for b in batches] == [7, 5]
    idx = [synthetic.decode_frame_index(f.numpy()) for b in batches for f in b]
    assert idx == list(range(23, 35))
    assert video.read_frames(path, start=45).shape[0] == 5  # runs to the end


def test_png_folder_reads_like_the_video(synthetic_clip, tmp_path):
    path, _ = synthetic_clip
    frames = video.read_frames(path, count=10)
    folder = video.write_frames(tmp_path / "frames", frames)
    assert sorted(p.name for p in folder.iterdir())[:2] == ["000000.png", "000001.png"]
    info = video.probe(folder)
    assert (info.kind, info.frames, info.width, info.height) == ("frames", 10, 320, 180)
    assert torch.equal(video.read_frames(folder), frames)  # PNG is lossless
    assert torch.equal(torch.cat(list(video.iter_frames(folder, 4, start=3, count=5))), frames[3:8])


def test_list_videos_keys(tmp_path, synthetic_clip):
    path, _ = synthetic_clip
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.mp4").write_bytes(path.read_bytes())
    video.write_frames(tmp_path / "b", video.read_frames(path, count=2))
    assert set(video.list_videos(tmp_path)) == {"sub/a", "b"}


def test_corrupt_and_truncated_files_name_the_file(tmp_path, synthetic_clip):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(MediaError, match="junk.mp4"):
        video.probe(junk)
    path, _ = synthetic_clip
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # faststart: header intact, frames missing
    with pytest.raises(MediaError, match="cut.mp4"):
        video.read_frames(cut)
    with pytest.raises(BadInput, match="missing.mp4"):
        video.probe(tmp_path / "missing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MediaError, match="no PNG"):
        video.probe(empty)


def test_failed_encode_leaves_nothing(tmp_path):
    dest = tmp_path / "out.mp4"
    with pytest.raises(BadInput, match="even frame size"):
        video.write_video(dest, torch.zeros(2, 33, 32, 3, dtype=torch.uint8), fps=25)
    with pytest.raises(RuntimeError):
        with video.VideoWriter(dest, fps=25) as w:
            w.write(torch.zeros(2, 32, 32, 3, dtype=torch.uint8))
            raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_frame_folder_with_mixed_sizes_is_refused(tmp_path):
    import cv2

    d = tmp_path / "f"
    d.mkdir()
    cv2.imwrite(str(d / "0.png"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(d / "1.png"), np.zeros((8, 10, 3), np.uint8))
    with pytest.raises(MediaError, match="1.png"):
        video.read_frames(d)


STREAM_SCRIPT = r"""
import resource, sys, torch
from vhq.io import video
torch.set_num_threads(1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = 0
for b in video.iter_frames(sys.argv[1], batch_size=16):
    n += b.shape[0]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(n, (after - before) / 1024)
"""


@pytest.mark.slow
def test_streaming_memory_is_bounded_on_a_long_video(tmp_path):
    part = synthetic.write_synthetic(tmp_path / "part.mp4", synthetic.SyntheticVideo(width=640, height=360, frames=100), preset="ultrafast")
    long = synthetic.concat_copy([part] * 30, tmp_path / "long.mp4")  # 3000 frames, 2 GB as raw RGB
    assert video.probe(long).frames == 3000
    out = subprocess.run([sys.executable, "-c", STREAM_SCRIPT, str(long)], capture_output=True, text=True, check=True).stdout.split()
    frames, grown_mib = int(out[0]), float(out[1])
    assert frames == 3000
    raw_mib = 3000 * 640 * 360 * 3 / 2**20
    assert grown_mib < 150, f"RSS grew by {grown_mib:.0f} MiB while streaming ({raw_mib:.0f} MiB of raw frames)"
