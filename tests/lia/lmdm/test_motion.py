"""`vhq lia motion`: the frozen encoder's α of every frame, in shards with the LIA's sha256, resumable, sharded."""

from __future__ import annotations

import torch

from lia.animate import frames_to_input
from lia.checkpoint import load_checkpoint
from lia.lmdm.motion import read_motion
from vhq.io import files, video
from vhq.testing.synthetic import write_clips


def test_codes_are_the_encoders_and_shards_partition_and_resume(cli, lia64, tmp_path):
    clips = write_clips(tmp_path / "clips", count=2, frames=3, side=64)
    out = tmp_path / "motion"
    encoded = []
    for k in ("1/2", "2/2"):
        code, stdout, err = cli("lia", "motion", "--clips", tmp_path / "clips", "--ckpt", lia64, "--out", out, "--shard", k, "--batch", 2, "--device", "cpu")
        assert code == 0, err
        encoded.append(int(stdout.split(": ", 1)[1].split()[0]))
    assert sum(encoded) == 2  # the two shards partition the clips
    codes, lia = read_motion(out)
    assert sorted(codes) == ["clip00", "clip01"]
    assert lia["sha256"] == files.sha256_file(lia64) and lia["config"] == {"size": 64, "style_dim": 512, "motion_dim": 20}
    G = load_checkpoint(lia64).generator()
    with torch.no_grad():
        want = G.encode_motion(frames_to_input(video.read_frames(clips[1]), 64))
    assert codes["clip01"].shape == (3, 20) and torch.allclose(codes["clip01"], want, atol=1e-5)
    code, stdout, err = cli("lia", "motion", "--clips", tmp_path / "clips", "--ckpt", lia64, "--out", out, "--device", "cpu")
    assert code == 0 and "0 clip(s) encoded now, 2 already done" in stdout


def test_a_folder_of_another_lia_is_refused(cli, lia64, tmp_path):
    from lia.lmdm.motion import write_shard

    write_clips(tmp_path / "clips", count=1, frames=2, side=64)
    out = tmp_path / "motion"
    write_shard(out / "motion-1-of-1-00000.pt", {"sha256": "f" * 64, "config": {}, "file": "other.pt"}, {"clip00": torch.zeros(2, 20)}, {})
    code, _, err = cli("lia", "motion", "--clips", tmp_path / "clips", "--ckpt", lia64, "--out", out, "--device", "cpu")
    assert code == 1 and "holds codes of another LIA checkpoint" in err and "Traceback" not in err
