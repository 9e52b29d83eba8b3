"""Sampling and rendering: seeded determinism, α_1 kept exactly, continuous chunks, `vhq generate` end to end."""

from __future__ import annotations

import torch

from lia.lmdm.diffusion import Diffusion, DiffusionConfig
from lia.lmdm.generate import Sampling, sample_codes
from lia.lmdm.model import Lmdm, Normaliser, load_lmdm, save_lmdm
from tests.lia.lmdm.conftest import LIA_INFO, tiny_unet
from vhq.io import files, video

L = 8  # sequence length of the tiny LMDM


def tiny_lmdm(steps: int = 20, seq_len: int = L) -> Lmdm:
    norm = Normaliser(torch.tensor([0.1, -0.2, 0.3, 0.0]), torch.tensor([0.5, 1.0, 2.0, 0.25]))
    return Lmdm(tiny_unet(), Diffusion(DiffusionConfig(steps=steps)), norm, seq_len, dict(LIA_INFO))


def test_seeded_sampling_is_deterministic_and_starts_with_alpha1_exactly():
    lmdm = tiny_lmdm()
    alpha1 = torch.randn(3, 4, generator=torch.Generator().manual_seed(5)) * 3
    for sampling in (Sampling("ddpm"), Sampling("ddim", 5)):
        a = sample_codes(lmdm, alpha1, L, torch.Generator().manual_seed(7), sampling)
        b = sample_codes(lmdm, alpha1, L, torch.Generator().manual_seed(7), sampling)
        c = sample_codes(lmdm, alpha1, L, torch.Generator().manual_seed(8), sampling)
        assert a.shape == (3, L, 4)
        assert torch.equal(a, b) and not torch.allclose(a, c)
        assert torch.equal(a[:, 0], alpha1)


def test_long_videos_are_chunks_chained_at_a_shared_code():
    lmdm = tiny_lmdm()
    alpha1 = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    n = 1 + 2 * (L - 1) + 3  # three chunks, the last one cut
    codes = sample_codes(lmdm, alpha1, n, torch.Generator().manual_seed(1))
    assert codes.shape == (2, n, 4) and torch.equal(codes[:, 0], alpha1)
    # chunk by chunk by hand, with the same generator: each chunk starts at the previous chunk's last code
    g = torch.Generator().manual_seed(1)
    first = sample_codes(lmdm, alpha1, L, g)
    second = sample_codes(lmdm, first[:, -1], L, g)
    third = sample_codes(lmdm, second[:, -1], L, g)
    assert torch.equal(codes[:, :L], first)
    assert torch.equal(codes[:, L - 1:2 * L - 1], second)
    assert torch.equal(codes[:, 2 * L - 2:], third[:, :4])
    # no jump at a boundary beyond the spread of steps inside a chunk
    steps = (codes[:, 1:] - codes[:, :-1]).norm(dim=-1)
    assert steps[:, L - 2:L].max() <= steps.max()


def test_checkpoint_round_trip_loads_with_weights_only(tmp_path):
    lmdm = tiny_lmdm()
    path = save_lmdm(tmp_path / "m.pt", lmdm.net, lmdm.diffusion, L, lmdm.norm, LIA_INFO, step=3)
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "vhq-lmdm" and raw["lia"]["sha256"] == "0" * 64 and raw["step"] == 3
    back = load_lmdm(path)
    assert back.seq_len == L and back.diffusion.cfg == lmdm.diffusion.cfg and back.net.cfg == lmdm.net.cfg
    alpha1 = torch.randn(1, 4)
    assert torch.equal(sample_codes(back, alpha1, L, torch.Generator().manual_seed(0)), sample_codes(lmdm, alpha1, L, torch.Generator().manual_seed(0)))


def test_generate_writes_the_requested_frames_with_a_64px_lia(cli, lia64, tmp_path):
    from lia.checkpoint import load_checkpoint

    lmdm = tiny_lmdm(steps=10, seq_len=4)
    lmdm.net = tiny_unet(motion_dim=20)
    lmdm.norm = Normaliser(torch.zeros(20), torch.ones(20))
    lmdm_path = save_lmdm(tmp_path / "lmdm.pt", lmdm.net, lmdm.diffusion, 4, lmdm.norm, {"sha256": files.sha256_file(lia64), "config": {}, "file": lia64.name})
    starts = tmp_path / "starts"
    g = torch.Generator().manual_seed(0)
    video.write_image(starts / "a.png", torch.randint(0, 256, (80, 80, 3), generator=g, dtype=torch.uint8))
    out = tmp_path / "out"
    args = ["generate", "--lia", lia64, "--lmdm", lmdm_path, "--start", starts, "--frames", 5, "--seed", 3, "--out", out, "--device", "cpu"]
    code, stdout, err = cli(*args)
    assert code == 0, err
    frames = video.read_frames(out / "a.mp4")
    assert frames.shape == (5, 64, 64, 3)  # two chunks of 4 codes sharing one
    row = files.read_csv(out / "generate.csv")[0]
    assert row["status"] == "ok" and row["frames"] == "5" and row["sampler"] == "ddpm"
    assert row["lia_sha256"] == files.sha256_file(lia64) and row["lmdm_sha256"] == files.sha256_file(lmdm_path)
    # frame 1 is LIA's self-reconstruction of the start image (its code is α_1 = E(x_1)), written losslessly;
    # decoded alone here and in a batch of 5 there, so the float maths may round one level differently
    from lia.animate import images_to_frames, source_to_input

    G = load_checkpoint(lia64).generator()
    with torch.no_grad():
        x = source_to_input(video.read_image(starts / "a.png"), 64)
        z, feats = G.encode_appearance(x)
        first = images_to_frames(G.decode(z, feats, G.encode_motion(x)))[0]
    assert (frames[0].int() - first.int()).abs().max() <= 1
    before = (out / "a.mp4").stat().st_mtime_ns
    code, stdout, _ = cli(*args)
    assert code == 0 and "0 video(s) generated now, 1 kept" in stdout and (out / "a.mp4").stat().st_mtime_ns == before


def test_generate_refuses_a_lia_of_another_code_size(cli, lia64, tmp_path):
    lmdm = tiny_lmdm()
    path = save_lmdm(tmp_path / "lmdm.pt", lmdm.net, lmdm.diffusion, L, lmdm.norm, LIA_INFO)
    img = video.write_image(tmp_path / "s.png", torch.zeros(64, 64, 3, dtype=torch.uint8))
    code, _, err = cli("generate", "--lia", lia64, "--lmdm", path, "--start", img, "--out", tmp_path / "o")
    assert code == 1 and "models 4-dimensional codes" in err and "Traceback" not in err
    code, _, err = cli("generate", "--lia", lia64, "--lmdm", lia64, "--start", img, "--out", tmp_path / "o")
    assert code == 1 and "not an LMDM checkpoint" in err
