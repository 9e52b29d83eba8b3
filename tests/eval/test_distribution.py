"""Distribution metrics end to end: clip sampling, preprocessing, streaming features, caching, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from eval import distribution
from eval.distribution import FeatureAccumulator, evaluate_distribution
from eval.functional.frechet import frechet_distance_from_features
from eval.video_protocols import Clip, clip_starts, get_protocol, plan_clips, preprocess_clip, read_clip, write_clip_record
from vhq import weights
from vhq.errors import BadInput, MissingWeights
from vhq.io import files, video
from vhq.testing import synthetic
from vhq.testing.random_weights import write_i3d_checkpoint, write_resnext_checkpoint

SMALL = 32  # plumbing-test input size; the protocols themselves resize to 224 / 112


def _video(rng, frames=16, size=48, level=None):
    if level is not None:
        return np.full((frames, size, size, 3), level, np.uint8)
    base = rng.integers(0, 256, (1, size, size, 3))
    drift = rng.integers(-20, 21, (frames, 1, 1, 3))
    return np.clip(base + drift, 0, 255).astype(np.uint8)


def _make_set(root, n, seed, frames=16, as_frames=False, size=48):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        clip = _video(rng, frames, size)
        if as_frames:
            video.write_frames(root / f"v{i:02d}", clip)
        else:
            video.write_video(root / f"v{i:02d}.mp4", clip, fps=25, crf=0, pix_fmt="yuv444p")
    return root


@pytest.fixture
def i3d_weights(tmp_path):
    weights.import_file("i3d_pretrained_400", write_i3d_checkpoint(tmp_path / "i3d_pretrained_400.pt"), no_verify=True)


# ---------------------------------------------------------------- clip sampling


def test_random_clips_are_reproducible_with_a_seed_and_independent_of_the_set():
    p = get_protocol("stylegan-v", seed=7)
    lengths = {f"v{i}": 40 + i for i in range(50)}
    paths = {k: f"/data/{k}.mp4" for k in lengths}
    a = plan_clips(paths, p, "real", lengths)
    b = plan_clips(paths, p, "real", lengths)
    assert [c.start for c in a] == [c.start for c in b]
    assert len({c.start for c in a}) > 5  # really random offsets
    other = plan_clips(paths, get_protocol("stylegan-v", seed=8), "real", lengths)
    assert [c.start for c in a] != [c.start for c in other]
    # A video's clip does not depend on which other videos are in the set (or on the rank that reads it).
    half = plan_clips({k: paths[k] for k in list(paths)[::2]}, p, "real", lengths)
    assert {c.key: c.start for c in half}.items() <= {c.key: c.start for c in a}.items()
    assert all(0 <= c.start <= lengths[c.key] - 16 for c in a)
    # Generated videos: the first 16 frames.
    assert {c.start for c in plan_clips(paths, p, "fake", lengths)} == {0}


def test_clip_record_is_written(tmp_path):
    p = get_protocol("stylegan-v", seed=3)
    clips = plan_clips({"a": "/x/a.mp4", "b": "/x/b.mp4"}, p, "real", {"a": 30, "b": 64})
    rows = files.read_csv(write_clip_record(tmp_path / "clips.csv", clips, p, "real"))
    assert [(r["key"], int(r["start"]), r["seed"]) for r in rows] == [(c.key, c.start, "3") for c in clips]


def test_sampling_modes():
    g3an = get_protocol("g3an")
    assert clip_starts("k", 100, "center", g3an) == [42]  # frames 42..57
    assert clip_starts("k", 300, "center", get_protocol("g3an", first_frames=100)) == [42]  # LIA: first 100 frames
    assert clip_starts("k", 300, "center", g3an) == [142]
    digan = get_protocol("digan")
    assert clip_starts("k", 50, "chunks", digan) == [0, 16, 32]
    assert clip_starts("k", 100, "chunks", get_protocol("digan", stride=4)) == [0]
    assert clip_starts("k", 15, "first", digan) == []
    assert get_protocol("stylegan-v", max_videos=None).max_videos == 2048  # None keeps the protocol's value
    with pytest.raises(BadInput, match="unknown clip protocol"):
        get_protocol("fvd-tf")


def test_stylegan_v_takes_the_first_2048_videos():
    lengths = {f"v{i:05d}": 16 for i in range(2100)}
    clips = plan_clips({k: k for k in lengths}, get_protocol("stylegan-v"), "real", lengths)
    assert len(clips) == 2048 and clips[-1].key == "v02047"


def test_read_clip_decodes_exactly_the_clip_frames(synthetic_clip):
    path, _ = synthetic_clip
    frames = read_clip(Clip("clip", path, start=10, frames=4, stride=2))
    assert frames.shape == (4, 180, 320, 3)
    assert [synthetic.decode_frame_index(f.numpy()) for f in frames] == [10, 12, 14, 16]


# ---------------------------------------------------------------- preprocessing


def test_direct_resize_and_value_path():
    p = get_protocol("stylegan-v")
    frames = torch.zeros(16, 64, 80, 3, dtype=torch.uint8)
    frames[..., 0] = 255
    x = preprocess_clip(frames, p)
    assert x.shape == (3, 16, 224, 224) and x.dtype == torch.float32
    assert torch.allclose(x[0], torch.ones(1)) and torch.allclose(x[1], -torch.ones(1))
    rnd = torch.randint(0, 256, (16, 40, 60, 3), dtype=torch.uint8)
    ref = torch.nn.functional.interpolate(rnd.permute(0, 3, 1, 2).float() / 255, size=(224, 224), mode="bilinear", align_corners=False)
    torch.testing.assert_close(preprocess_clip(rnd, p), (ref * 2 - 1).permute(1, 0, 2, 3), rtol=1e-5, atol=1e-5)


def test_digan_resizes_the_shorter_side_and_centre_crops():
    p = get_protocol("digan")
    frames = torch.zeros(16, 100, 200, 3, dtype=torch.uint8)
    frames[:, :, 100:] = 255  # right half white
    x = preprocess_clip(frames, p)
    assert x.shape == (3, 16, 224, 224)
    # The 448-wide resized frame is cropped to its centre: left half −1, right half +1.
    assert x[:, :, :, :100].max() == pytest.approx(-1) and x[:, :, :, 124:].min() == pytest.approx(1)


def test_g3an_uses_pil_bilinear_and_the_activitynet_mean():
    p = get_protocol("g3an")
    frames = torch.randint(0, 256, (16, 128, 96, 3), dtype=torch.uint8)
    x = preprocess_clip(frames, p)
    assert x.shape == (3, 16, 112, 112)
    pil = np.asarray(Image.fromarray(frames[5].numpy()).resize((112, 112), Image.BILINEAR)).astype(np.float32)
    expected = torch.from_numpy(pil).permute(2, 0, 1) - torch.tensor([114.7748, 107.7354, 99.4750]).view(3, 1, 1)
    torch.testing.assert_close(x[:, 5], expected)


# ---------------------------------------------------------------- accumulation


def test_accumulator_matches_one_shot_statistics():
    x = np.random.default_rng(0).standard_normal((37, 6))
    acc = FeatureAccumulator(6, keep_features=True)
    for i, chunk in enumerate(np.array_split(x, 5)):
        acc.update(chunk, [f"c{i}_{j}" for j in range(len(chunk))])
    acc.reduce()
    mu, cov = acc.stats.mean_cov(unbiased=True)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-10)
    np.testing.assert_allclose(acc.features, x.astype(np.float32), rtol=1e-6)
    assert acc.stats.total.dtype == np.float64


# ---------------------------------------------------------------- end to end


@pytest.mark.slow
def test_fvd_and_kvd_with_random_init_i3d(tmp_path, i3d_weights, capsys):
    real = _make_set(tmp_path / "real", 5, seed=1, frames=20)
    pred = _make_set(tmp_path / "pred", 4, seed=2, frames=16, as_frames=True)
    rows = evaluate_distribution(pred, real, ["fvd_i3d", "kvd"], size=SMALL, record_dir=tmp_path / "rec", batch_size=2)
    assert [r["metric"] for r in rows] == ["fvd_i3d", "kvd"]
    fvd, kvd = rows
    assert set(fvd) == set(distribution.SUMMARY_FIELDS)
    assert fvd["value"] > 0 and np.isfinite(fvd["value"])
    assert (fvd["n_real"], fvd["n_pred"], fvd["clips_real"], fvd["clips_pred"]) == (5, 4, 5, 4)
    assert (fvd["protocol"], fvd["cov"], fvd["fd_method"], fvd["backbone"], fvd["feature_dim"]) == ("stylegan-v", "biased", "eigen", "i3d", 400)
    assert (fvd["weight"], fvd["weight_state"], fvd["real_stats"]) == ("i3d_pretrained_400", "unverified", "computed")
    assert "rank-deficient" in fvd["warning"] and "not above the feature dimension" in capsys.readouterr().err
    assert kvd["kvd_mode"] == "full" and np.isfinite(kvd["value"])
    recorded = files.read_csv(tmp_path / "rec" / "clips_i3d_stylegan-v_real.csv")
    assert len(recorded) == 5 and all(0 <= int(r["start"]) <= 4 for r in recorded)
    # The real set's features are cached: a second model's evaluation reuses them.
    again = evaluate_distribution(pred, real, ["fvd_i3d", "kvd"], size=SMALL, batch_size=3)
    assert again[0]["real_stats"] == "cached"
    assert again[0]["value"] == pytest.approx(fvd["value"], rel=1e-6)
    assert again[1]["value"] == pytest.approx(kvd["value"], rel=1e-5, abs=1e-9)
    # Statistics-only runs reuse the entry that kept the features too.
    assert evaluate_distribution(pred, real, ["fvd_i3d"], size=SMALL)[0]["real_stats"] == "cached"


def test_fvd_matches_features_computed_by_hand(tmp_path, i3d_weights):
    real = _make_set(tmp_path / "real", 4, seed=3)
    pred = _make_set(tmp_path / "pred", 3, seed=4)
    rows = evaluate_distribution(pred, real, ["fvd_i3d"], size=SMALL, fvd_protocol="tats")
    from eval.backbones.i3d import load_i3d
    from eval.video_protocols import load_clip

    model = load_i3d()
    p = get_protocol("tats", size=SMALL)

    def feats(root, role):
        clips = plan_clips(video.list_videos(root), p, role)
        with torch.no_grad():
            return torch.cat([model(load_clip(c, p)[None]) for c in clips]).double().numpy()

    expected = frechet_distance_from_features(feats(pred, "fake"), feats(real, "real"), unbiased=True)
    assert rows[0]["value"] == pytest.approx(expected, rel=1e-5)
    assert rows[0]["cov"] == "unbiased"


@pytest.mark.slow
def test_identical_sets_give_zero_fvd(tmp_path, i3d_weights):
    # 16-frame videos: the random real offset can only be 0, so both sets hold the same clips.
    real = _make_set(tmp_path / "real", 4, seed=5)
    fvd = evaluate_distribution(real, real, ["fvd_i3d"], size=SMALL)[0]
    other = evaluate_distribution(_make_set(tmp_path / "pred", 4, seed=6), real, ["fvd_i3d"], size=SMALL)[0]
    assert abs(fvd["value"]) < 1e-6 * other["value"]


def test_digan_trials_report_mean_and_std(tmp_path, i3d_weights):
    real = _make_set(tmp_path / "real", 3, seed=7, frames=34)  # 2 chunks each
    pred = _make_set(tmp_path / "pred", 4, seed=8)
    rows = evaluate_distribution(pred, real, ["fvd_i3d", "kvd"], size=SMALL, fvd_protocol="digan", trials=3, max_videos=None)
    fvd = rows[0]
    assert (fvd["trials"], fvd["seed"], fvd["clips_real"], fvd["clip_real"]) == (3, 42, 6, "chunks")
    assert fvd["cov"] == "unbiased" and fvd["std"] >= 0


def test_a_changed_real_file_is_not_served_from_cache(tmp_path, i3d_weights):
    real = _make_set(tmp_path / "real", 3, seed=9)
    pred = _make_set(tmp_path / "pred", 3, seed=10)
    first = evaluate_distribution(pred, real, ["fvd_i3d"], size=SMALL)[0]
    video.write_video(real / "v00.mp4", _video(np.random.default_rng(99)), fps=25, crf=0, pix_fmt="yuv444p")
    second = evaluate_distribution(pred, real, ["fvd_i3d"], size=SMALL)[0]
    assert second["real_stats"] == "computed" and second["value"] != first["value"]


def test_refuses_too_few_and_too_short_videos(tmp_path, i3d_weights):
    real = _make_set(tmp_path / "real", 3, seed=11)
    one = _make_set(tmp_path / "one", 1, seed=12)
    with pytest.raises(BadInput, match="at least 2"):
        evaluate_distribution(one, real, ["fvd_i3d"], size=SMALL)
    short = _make_set(tmp_path / "short", 2, seed=13, frames=10)
    with pytest.raises(BadInput, match=r"shorter than the 16-frame clip.*v00\.mp4 \(10 frames\)"):
        evaluate_distribution(short, real, ["fvd_i3d"], size=SMALL)
    with pytest.raises(BadInput, match="unknown distribution metric"):
        evaluate_distribution(real, real, ["fvd"])


def test_missing_weights_fail_before_decoding(tmp_path):
    real = _make_set(tmp_path / "real", 2, seed=14)
    with pytest.raises(MissingWeights, match="i3d_pretrained_400"):
        evaluate_distribution(real, real, ["fvd_i3d"])


@pytest.mark.slow
def test_video_fid_with_random_init_resnext(tmp_path):
    weights.import_file("resnext101_kinetics", write_resnext_checkpoint(tmp_path / "resnext-101-kinetics.pth"), no_verify=True)
    real = _make_set(tmp_path / "real", 3, seed=15, frames=24)
    pred = _make_set(tmp_path / "pred", 3, seed=16, frames=20)
    rows = evaluate_distribution(pred, real, ["fid_r3dx101"], size=64, first_frames=100, record_dir=tmp_path / "rec")
    fid = rows[0]
    assert (fid["metric"], fid["backbone"], fid["feature_dim"], fid["protocol"]) == ("fid_r3dx101", "r3dx101", 2048, "g3an")
    assert (fid["first_frames"], fid["resize"], fid["value_path"], fid["cov"]) == (100, "pil_bilinear", "x-activitynet_mean", "unbiased")
    assert np.isfinite(fid["value"]) and fid["value"] > 0
    starts = [int(r["start"]) for r in files.read_csv(tmp_path / "rec" / "clips_r3dx101_g3an_real.csv")]
    assert starts == [4, 4, 4]  # centre 16 of 24 frames


# ---------------------------------------------------------------- identity metrics


def _colour_video(path, colours):
    video.write_frames(path, np.stack([np.full((24, 24, 3), c, np.uint8) for c in colours]))


def test_acd_and_csim_with_colour_mean_embedder(tmp_path):
    pred = tmp_path / "pred"
    _colour_video(pred / "a", [(255, 0, 0), (0, 255, 0), (0, 255, 0)])
    _colour_video(pred / "b", [(255, 255, 0), (255, 255, 0)])
    src = tmp_path / "src"
    src.mkdir()
    video.write_image(src / "a.png", np.full((24, 24, 3), (255, 0, 0), np.uint8))
    _colour_video(src / "b", [(255, 0, 0), (0, 0, 255)])  # a video source: its first frame is used
    rows = evaluate_distribution(pred, None, ["acd", "csim"], source_dir=src, embedder=distribution.colour_mean_embedder,
                                 embedder_info={"backbone": "colour_mean"})
    acd, csim = rows
    # Video a: pair distances √2, √2, 0 → 2√2/3; video b: 0.
    assert acd["value"] == pytest.approx((2 * np.sqrt(2) / 3 + 0) / 2)
    assert (acd["acd_pairs"], acd["n_pred"], acd["backbone"]) == ("all", 2, "colour_mean")
    consecutive = evaluate_distribution(pred, None, ["acd"], embedder=distribution.colour_mean_embedder, acd_pairs="consecutive")[0]
    assert consecutive["value"] == pytest.approx((np.sqrt(2) / 2 + 0) / 2)
    # Video a: cosines 1, 0, 0 → 1/3; video b: (1,1,0)·(1,0,0) → 1/√2.
    assert csim["value"] == pytest.approx((1 / 3 + 1 / np.sqrt(2)) / 2)
    assert csim["higher_is_better"] is True and acd["higher_is_better"] is False


def test_csim_refuses_missing_sources_and_acd_needs_an_embedder(tmp_path):
    pred = tmp_path / "pred"
    _colour_video(pred / "a", [10, 20])
    _colour_video(pred / "b", [30, 40])
    with pytest.raises(BadInput, match="identity embedder"):
        evaluate_distribution(pred, None, ["acd"])
    (tmp_path / "src").mkdir()
    with pytest.raises(BadInput, match="no source image for generated video 'a'"):
        evaluate_distribution(pred, None, ["csim"], source_dir=tmp_path / "src", embedder=distribution.colour_mean_embedder)


# ---------------------------------------------------------------- torchrun-style ranks

RANK_SCRIPT = r"""
import json, os, sys
import torch
torch.set_num_threads(1)
from vhq import distributed
distributed.init(backend="gloo", timeout_s=120)
from eval.distribution import evaluate_distribution
rows = evaluate_distribution(sys.argv[1], sys.argv[2], ["fvd_i3d", "kvd"], size=32, use_cache=False, batch_size=2)
if distributed.rank() == 0:
    json.dump(rows, open(sys.argv[3], "w"))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_ranks_give_the_single_process_result(tmp_path, i3d_weights, _isolated_cache):
    import json
    import os
    import subprocess
    import sys

    real = _make_set(tmp_path / "real", 5, seed=20, frames=24)
    pred = _make_set(tmp_path / "pred", 3, seed=21)
    single = evaluate_distribution(pred, real, ["fvd_i3d", "kvd"], size=SMALL, use_cache=False)
    port = str(_free_port())
    out = tmp_path / "rows.json"
    procs = []
    for rank in range(2):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=port,
                   GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1", VHQ_CACHE=str(_isolated_cache), VHQ_QUIET="1",
                   PYTHONPATH=os.getcwd())
        procs.append(subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, str(pred), str(real), str(out)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        try:
            _, err = p.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("gloo ranks did not finish in 180 s")
        assert p.returncode == 0, err[-2000:]
    ranked = json.loads(out.read_text())
    for a, b in zip(single, ranked):
        assert a["metric"] == b["metric"] and (a["clips_real"], a["clips_pred"]) == (b["clips_real"], b["clips_pred"])
        assert b["value"] == pytest.approx(a["value"], rel=1e-5, abs=1e-9)


# ---------------------------------------------------------------- cd-fvd protocol (fvd_videomae)


def _columns(pattern, height, repeat):
    row = np.tile(np.array(pattern, np.uint8), repeat)
    return torch.from_numpy(np.broadcast_to(row[None, :, None], (height, row.size, 3)).copy())[None].repeat(2, 1, 1, 1)


def test_cd_fvd_loader_is_antialiased_and_truncates_to_uint8():
    """Columns 0,0,255,255 halved: antialiased bilinear gives 63.75 / 191.25, truncated to 63 / 191.

    Plain bilinear would give 0 / 255; rounding would give 64 / 191.
    """
    from eval.video_protocols import cdfvd_loader_clip

    out = cdfvd_loader_clip(_columns([0, 0, 255, 255], 256, 64), 128)
    assert out.dtype == torch.uint8 and out.shape == (2, 128, 128, 3)
    interior = out[:, 4:-4, 4:-4, 0]
    assert set(interior.unique().tolist()) == {63, 191}
    assert (interior[:, :, 0::2] == interior[0, 0, 0]).all()


def test_cd_fvd_loader_scales_the_short_side_and_crops_the_centre():
    from eval.video_protocols import cdfvd_loader_clip

    thirds = _columns([0] * 100 + [255] * 100 + [0] * 100, 100, 1)  # 100 × 300: shorter side is the height
    out = cdfvd_loader_clip(thirds, 128)  # → 128 × 384, centre 128 columns = the middle third
    assert out.shape == (2, 128, 128, 3)
    assert (out[:, :, 2:-2] == 255).all()
    tall = cdfvd_loader_clip(thirds.transpose(1, 2), 128)
    assert (tall[:, 2:-2, :] == 255).all()


@pytest.mark.parametrize("name, white, black", [("cd-fvd", 1.0, 0.0), ("cd-fvd-i3d", 1.0, -1.0)])
def test_cd_fvd_values_have_no_mean_std_normalisation(name, white, black):
    p = get_protocol(name)
    assert (p.real_clips, p.fake_clips, p.frames, p.unbiased, p.fd_method) == ("random", "random", 16, False, "sqrtm_real")
    for level, expected in ((255, white), (0, black)):
        x = preprocess_clip(torch.full((16, 48, 64, 3), level, dtype=torch.uint8), p)
        assert x.shape == (3, 16, 224, 224)
        torch.testing.assert_close(x, torch.full_like(x, expected), rtol=0, atol=1e-6)


def test_cd_fvd_resizes_to_224_with_plain_bilinear_after_the_loader():
    from eval.video_protocols import cdfvd_loader_clip

    frames = _columns([0, 0, 255, 255], 256, 64)  # already 256: the loader keeps it
    p = get_protocol("cd-fvd", clip_resolution=256)
    assert torch.equal(cdfvd_loader_clip(frames, 256), frames)
    x = preprocess_clip(frames, p)
    plain = torch.nn.functional.interpolate(frames.permute(0, 3, 1, 2).float() / 255, size=(224, 224), mode="bilinear", align_corners=False)
    antialiased = torch.nn.functional.interpolate(frames.permute(0, 3, 1, 2).float() / 255, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
    assert torch.equal(x, plain.permute(1, 0, 2, 3))
    assert not torch.allclose(x, antialiased.permute(1, 0, 2, 3), atol=1e-3)


@pytest.mark.parametrize("resolution", [128, 256])
def test_cd_fvd_preprocessing_equals_cd_fvds_own_functions(resolution):
    """Oracle: cd-fvd's loader ``preprocess`` + ``(·×255).byte()`` + ``preprocess_videomae`` / ``preprocess_i3d``."""
    data_utils = pytest.importorskip("cdfvd.utils.data_utils")
    from cdfvd.third_party.i3d.utils import preprocess_i3d
    from cdfvd.third_party.VideoMAEv2.utils import preprocess_videomae

    rng = np.random.default_rng(resolution)
    frames = torch.from_numpy(rng.integers(0, 256, (16, 90, 150, 3), dtype=np.uint8))
    loaded = data_utils.preprocess(frames, resolution)["video"]  # [3, T, R, R] in [0, 1]
    clip = (loaded[None] * 255).permute(0, 2, 3, 4, 1).byte().numpy()  # fvd.py: rearrange(b c t h w -> b t h w c)
    theirs_mae = preprocess_videomae(clip)[0]
    theirs_i3d = preprocess_i3d(clip)[0]
    ours_mae = preprocess_clip(frames, get_protocol("cd-fvd", clip_resolution=resolution))
    ours_i3d = preprocess_clip(frames, get_protocol("cd-fvd-i3d", clip_resolution=resolution))
    torch.testing.assert_close(ours_mae, theirs_mae, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours_i3d, theirs_i3d, rtol=0, atol=1e-5)


def test_cd_fvd_protocol_options_are_checked():
    with pytest.raises(BadInput, match="choose one of: 128, 256"):
        get_protocol("cd-fvd", clip_resolution=200)
    with pytest.raises(BadInput, match="only to the cd-fvd loader"):
        get_protocol("stylegan-v", clip_resolution=128)
    with pytest.raises(BadInput, match="resample_to must be >= 2"):
        get_protocol("cd-fvd", resample_to=1)


def test_resample_rule_draws_the_generated_set_again_until_it_has_n_clips():
    lengths = {f"v{i}": 60 for i in range(4)}
    paths = {k: f"/data/{k}.mp4" for k in lengths}
    plain = plan_clips(paths, get_protocol("cd-fvd"), "fake", lengths)
    assert len(plain) == 4
    p = get_protocol("cd-fvd", resample_to=10)
    clips = plan_clips(paths, p, "fake", lengths)
    assert len(clips) == 10 and clips == plan_clips(paths, p, "fake", lengths)
    counts = {k: sum(c.key == k for c in clips) for k in lengths}
    assert sorted(counts.values()) == [2, 2, 3, 3]
    assert {(c.key, c.start) for c in plain} <= {(c.key, c.start) for c in clips}  # pass 0 = the usual clips
    assert len({(c.key, c.start) for c in clips}) > 6  # later passes draw new clips
    assert len(plan_clips(paths, p, "real", lengths)) == 4  # the real set is never resampled
    subset = plan_clips(paths, get_protocol("cd-fvd", resample_to=3), "fake", lengths)
    assert len({c.key for c in subset}) == 3  # a larger set: a seeded random subset


def _peer_stats_pickle(path, feats):
    """A statistics file as cd-fvd's ``FeatureStats.save`` writes it (its class when installed)."""
    try:
        from cdfvd.utils.metric_utils import FeatureStats
    except ImportError:
        distribution.write_real_stats(path, distribution.frechet.SufficientStats.of(feats))
        return path
    stats = FeatureStats(capture_mean_cov=True)
    stats.append(feats)
    stats.save(str(path))
    return path


def test_published_statistics_import_round_trip(tmp_path):
    feats = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    imported = distribution.read_real_stats(_peer_stats_pickle(tmp_path / "videomae_ffs_full_res256_len16_skip1_seed0.pkl", feats))
    ref = distribution.frechet.SufficientStats.of(feats.astype(np.float64))
    assert imported.stats.count == 20
    np.testing.assert_allclose(imported.stats.total, ref.total, rtol=1e-12)
    np.testing.assert_allclose(imported.stats.outer, ref.outer, rtol=1e-12)
    assert imported.sha256 == files.sha256_file(tmp_path / "videomae_ffs_full_res256_len16_skip1_seed0.pkl")
    ours = distribution.write_real_stats(tmp_path / "ours.pkl", ref)
    assert distribution.read_real_stats(ours).stats.count == 20


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned",))


def test_statistics_import_refuses_code_and_malformed_files(tmp_path, monkeypatch):
    import pickle

    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps({"raw_mean": np.zeros(3), "raw_cov": np.zeros((3, 3)), "num_items": 5, "x": _Exploit()}))
    with pytest.raises(BadInput, match=r"evil.pkl: not a statistics pickle.*refuses to build (posix|os)\.system"):
        distribution.read_real_stats(bad)
    assert not (tmp_path / "pwned").exists()
    for name, obj, message in [
        ("list.pkl", [np.zeros(3)], "expected a dict"),
        ("objects.pkl", {"raw_mean": np.array([1, "a"], dtype=object)}, "refuses to build|expected a dict"),
        ("missing.pkl", {"raw_mean": np.zeros(3), "num_items": 4}, "lack raw_cov"),
        ("shapes.pkl", {"raw_mean": np.zeros(3), "raw_cov": np.zeros((2, 2)), "num_items": 4}, "inconsistent"),
    ]:
        (tmp_path / name).write_bytes(pickle.dumps(obj))
        with pytest.raises(BadInput, match=message):
            distribution.read_real_stats(tmp_path / name)
    with pytest.raises(BadInput, match="does not exist"):
        distribution.read_real_stats(tmp_path / "absent.pkl")


def test_clip_resolution_without_a_cd_fvd_metric_is_refused(tmp_path):
    pred, real = _make_set(tmp_path / "pred", 2, 1), _make_set(tmp_path / "real", 2, 2)
    with pytest.raises(BadInput, match="--clip-resolution 128: no requested metric uses the cd-fvd loader"):
        evaluate_distribution(pred, real, ["fvd_i3d"], clip_resolution=128)


def test_real_set_cache_entry_is_per_device_type(tmp_path):
    """GPU and CPU features differ by float32 rounding: one device's real-set entry never serves the other."""
    real = _make_set(tmp_path / "real", 2, seed=5)
    videos = {p.stem: p for p in sorted(real.glob("*.mp4"))}
    protocol = get_protocol("stylegan-v")
    cpu = distribution.real_cache_key(videos, "i3d", "abc", protocol, False, "cpu")
    assert cpu == distribution.real_cache_key(videos, "i3d", "abc", protocol, False, "cpu")
    assert cpu != distribution.real_cache_key(videos, "i3d", "abc", protocol, False, "cuda")
