"""VideoMAE-v2 ViT-g: the real key layout, strict fp16 loading through the registry, and cd-fvd's own network as oracle."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch

from eval.backbones.videomae import VideoMAEv2, load_videomae, sinusoid_table
from vhq import weights
from vhq.errors import BadInput, MissingWeights
from vhq.testing.random_weights import videomae_shapes, write_videomae_checkpoint

DIM = 64  # shrunk width for CPU tests (16 heads of 4)


def test_full_size_module_on_meta_matches_the_published_manifest_key_for_key():
    with torch.device("meta"):
        model = VideoMAEv2()
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    manifest = videomae_shapes()
    assert len(manifest) == 526
    assert list(ours) == list(manifest)  # same keys in the same order
    assert ours == manifest
    assert not any("pos" in k for k in ours)  # the position table is computed, not stored
    assert model.blocks[0].norm1.eps == 1e-6 and model.blocks[0].attn.num_heads == 16


def test_sinusoid_table_golden_values():
    table = sinusoid_table(2048, 1408)
    assert table.shape == (2048, 1408) and table.dtype == torch.float32
    for pos, j in [(0, 0), (0, 1), (7, 10), (1000, 11), (2047, 1406), (2047, 1407)]:
        angle = pos / 10000 ** (2 * (j // 2) / 1408)
        expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
        assert table[pos, j].item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("wrapper", [None, "module", "model"])
def test_fp16_file_loads_strictly_through_the_registry_as_float32(tmp_path, wrapper):
    f = write_videomae_checkpoint(tmp_path / "vit_g_hybrid_pt_1200e_ssv2_ft.pth", depth=2, dim=DIM, wrapper=wrapper, seed=1)
    raw = torch.load(f, weights_only=True)
    state = raw[wrapper] if wrapper else raw
    assert {v.dtype for v in state.values()} == {torch.float16}
    weights.import_file("videomae_v2_g_ssv2", f, no_verify=True)
    model = load_videomae()
    assert len(model.blocks) == 2 and model.dim == DIM and not model.training
    assert next(model.parameters()).dtype == torch.float32
    torch.testing.assert_close(model.blocks[1].attn.v_bias, state["blocks.1.attn.v_bias"].float())
    with torch.no_grad():
        feats = model(torch.rand(2, 3, 16, 224, 224))
    assert feats.shape == (2, DIM) and torch.isfinite(feats).all() and feats.std(0).min() > 0
    assert weights.provenance("videomae_v2_g_ssv2")["weight_state"] == "unverified"


def test_missing_and_misshapen_files_are_refused(tmp_path):
    with pytest.raises(MissingWeights, match="videomae_v2_g_ssv2"):
        load_videomae()
    f = write_videomae_checkpoint(tmp_path / "w.pth", depth=2, dim=DIM)
    state = torch.load(f, weights_only=True)
    state.pop("blocks.1.attn.q_bias")
    state["blocks.1.attn.qkv.bias"] = torch.zeros(3 * DIM, dtype=torch.float16)
    torch.save(state, f)
    weights.import_file("videomae_v2_g_ssv2", f, no_verify=True)
    with pytest.raises(BadInput, match="missing keys.*q_bias.*unexpected keys.*qkv.bias"):
        load_videomae()


def _peer_network(depth: int, dim: int):
    vm = pytest.importorskip("cdfvd.third_party.VideoMAEv2.videomaev2_finetune")
    # cd-fvd's vit_giant_patch14_224 with its width and depth shrunk; everything else as published.
    return vm.VisionTransformer(
        img_size=224, patch_size=14, embed_dim=dim, depth=depth, num_heads=16, mlp_ratio=48 / 11, qkv_bias=True,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_classes=174, all_frames=16, tubelet_size=2, use_mean_pooling=True,
    ).eval()


@pytest.mark.parametrize("frames", [16, 8])
def test_features_equal_cd_fvd_forward_features_on_the_same_weights(tmp_path, frames):
    """Oracle: cd-fvd's VideoMAE-v2 ``forward_features`` (8 frames: its time-interpolated table)."""
    peer = _peer_network(2, DIM)
    f = write_videomae_checkpoint(tmp_path / "w.pth", depth=2, dim=DIM, wrapper="module", seed=2)
    peer.load_state_dict({k: v.float() for k, v in torch.load(f, weights_only=True)["module"].items()})
    weights.import_file("videomae_v2_g_ssv2", f, no_verify=True)
    ours = load_videomae()
    x = torch.rand(2, 3, frames, 224, 224, generator=torch.Generator().manual_seed(frames))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), peer.forward_features(x), rtol=1e-5, atol=1e-5)


@pytest.mark.realweights
@pytest.mark.parametrize("metric, weight, filename, stats_name, expected", [
    ("fvd_videomae", "videomae_v2_g_ssv2", "vit_g_hybrid_pt_1200e_ssv2_ft.pth", "videomae_ucf101_full_res128_len16_skip1_seed0.pkl", 1064.6156),
    ("fvd_i3d", "i3d_pretrained_400", "i3d_pretrained_400.pt", "i3d_ucf101_full_res128_len16_skip1_seed0.pkl", 3383.96),
])
def test_cd_fvd_readme_numbers_on_a_gpu(cli, tmp_path, metric, weight, filename, stats_name, expected):
    """cd-fvd's README example: UCF-101 statistics at 128 px vs its example videos loaded at 256 px, n_fake=2048.

    Needs CUDA, the real weight in the user cache (``VHQ_REAL_CACHE``), the example videos
    (``VHQ_CDFVD_EXAMPLES``: the folder cd-fvd's ``download_example_videos.sh`` makes) and the two
    published statistics files (``VHQ_CDFVD_STATS``: a folder). cd-fvd draws its clips with Python's
    ``random`` through a shuffling DataLoader, so the 2048 clips differ from ours: agreement is to
    the sampling noise of 2048 clips (2 %), not to the last digit.
    """
    import os
    from pathlib import Path

    from vhq.io import files
    from vhq.testing.random_weights import real_weight_file

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA (ViT-g over 2048 clips)")
    real = real_weight_file(weight, filename)
    examples, stats_dir = os.environ.get("VHQ_CDFVD_EXAMPLES"), os.environ.get("VHQ_CDFVD_STATS")
    if real is None or not examples or not stats_dir or not (Path(stats_dir) / stats_name).is_file():
        pytest.skip("needs the real weight (VHQ_REAL_CACHE), VHQ_CDFVD_EXAMPLES and VHQ_CDFVD_STATS")
    weights.import_file(weight, real)  # must match the pinned hash
    protocol = ["--fvd-protocol", "cd-fvd-i3d"] if metric == "fvd_i3d" else []
    code, _, err = cli("eval", "--pred", examples, "--real-stats", Path(stats_dir) / stats_name, "--metrics", metric, *protocol,
                       "--clip-resolution", "256", "--resample-to", "2048", "--seed", "42", "--device", "cuda", "--out", tmp_path / "o")
    assert code == 0, err
    [row] = files.read_csv(tmp_path / "o" / "summary.csv")
    assert float(row["value"]) == pytest.approx(expected, rel=0.02)
