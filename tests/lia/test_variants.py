"""The TPAMI paper's variants of LIA: the source-warp branch and the three motion dictionaries.

Random-init weights in the official layouts; the source-warp branch is size-generic (its module sits
at the finest level), so the step-0 equality runs at 64 px with the code path of the 512 model.
"""

from __future__ import annotations

import pytest
import torch

from lia import Generator, load_checkpoint, save_checkpoint
from lia import checkpoint as ckpt_module
from lia.checkpoint import SOURCE_WARP_KEYS, infer_config, warm_start
from vhq.errors import BadInput

SPEC_SHAPES_512 = {  # next-models.md §1.3
    "dec.src_flow.conv.weight": [1, 3, 32, 1, 1], "dec.src_flow.conv.modulation.weight": [32, 512],
    "dec.src_flow.conv.modulation.bias": [32], "dec.src_flow.bias": [1, 3, 1, 1],
    "dec.src_rgb.conv.0.weight": [3, 3, 1, 1], "dec.src_rgb.conv.1.bias": [1, 3, 1, 1], "dec.src_rgb.bias": [1, 3, 1, 1],
}


def images(n: int, size: int, seed: int, dtype=torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, size, size, generator=g, dtype=dtype) * 2 - 1)


def test_source_warp_512_is_the_official_layout_plus_seven_keys(official_manifest):
    with torch.device("meta"):
        g = Generator(512, source_warp=True)
    shapes = {k: list(v.shape) for k, v in g.state_dict().items()}
    official = official_manifest("lia_state_dict_512")
    assert {k: v for k, v in shapes.items() if k in official} == official
    assert {k: v for k, v in shapes.items() if k not in official} == SPEC_SHAPES_512
    assert set(SPEC_SHAPES_512) == SOURCE_WARP_KEYS
    assert sum(p.numel() for p in g.parameters()) == 45_256_090


@pytest.fixture(scope="module")
def plain64():
    torch.manual_seed(1)
    return Generator(64).eval()


def test_warm_start_from_an_official_file_renders_the_plain_model_bit_for_bit(plain64, tmp_path):
    torch.save({"gen": plain64.state_dict()}, tmp_path / "official64.pt")  # the official file layout
    loaded = load_checkpoint(tmp_path / "official64.pt")
    assert loaded.kind == "official" and "source_warp" not in loaded.config
    torch.manual_seed(2)
    sw = Generator(64, source_warp=True)
    warm_start(sw, loaded.gen, tmp_path / "official64.pt")
    sw.eval()
    src, drv = images(1, 64, 0), images(1, 64, 1)
    with torch.no_grad():
        z, feats = plain64.encode_appearance(src)
        motion = plain64.encode_motion(drv)
        expected = plain64.decode(z, feats, motion)
        assert torch.equal(sw(src, drv), expected)
        # the branch is live: with an in-painting layer that passes x_w on, the output follows the
        # source image given as the last feature map (and only the decoder runs again)
        z, feats = sw.encode_appearance(src)
        assert len(feats) == len(sw.dec.to_flows) + 1 and torch.equal(feats[-1], src)
        sw.dec.src_rgb.conv[0].weight.copy_(torch.eye(3)[:, :, None, None])
        out = sw.decode(z, feats, motion)
        assert not torch.allclose(out, expected)
        feats[-1] = src.clone()
        feats[-1][:, :, 20:40, 20:40] += 0.5
        assert (sw.decode(z, feats, motion) - out).abs().amax() > 0.05


def test_warm_start_refuses_anything_but_exactly_the_new_keys_missing(plain64):
    state = dict(plain64.state_dict())
    del state["dec.to_rgbs.0.bias"]
    with pytest.raises(BadInput, match=r"missing \['dec.to_rgbs.0.bias'\]"):
        warm_start(Generator(64, source_warp=True), state, "x.pt")
    state = {**plain64.state_dict(), "dec.extra": torch.zeros(1)}
    with pytest.raises(BadInput, match="unexpected"):
        warm_start(Generator(64, source_warp=True), state, "x.pt")


def test_variant_checkpoints_round_trip_as_version_2(tmp_path):
    variant = {"source_warp": True, "dictionary": "random", "motion_dim": 5}
    torch.manual_seed(3)
    g = Generator(64, **variant).eval()
    save_checkpoint(tmp_path / "g.pt", g)
    raw = torch.load(tmp_path / "g.pt", weights_only=True)
    assert raw["version"] == 2
    assert {k: raw["config"][k] for k in variant} == variant
    back = load_checkpoint(tmp_path / "g.pt").generator()  # strict load
    assert back.config == g.config
    src, drv = images(1, 64, 5), images(1, 64, 6)
    with torch.no_grad():
        assert torch.equal(back(src, drv), g(src, drv))
    # a bare state_dict: the layout tells every variant but the (same-shaped) random basis
    torch.save(g.state_dict(), tmp_path / "bare.pt")
    inferred = load_checkpoint(tmp_path / "bare.pt").config
    assert inferred == {"size": 64, "style_dim": 512, "motion_dim": 5, "source_warp": True}


def test_commands_run_a_variant_checkpoint(cli, tmp_path):
    from eval.bench.models import LiaModel
    from vhq.io import video
    from vhq.testing.synthetic import write_clips

    torch.manual_seed(10)
    ckpt = save_checkpoint(tmp_path / "sw.pt", Generator(64, motion_dim=2, dictionary="random", source_warp=True))
    (clip,) = write_clips(tmp_path / "clips", count=1, frames=2, side=64)
    video.write_image(tmp_path / "src.png", next(video.iter_frames(clip, batch_size=1))[0])
    code, _, err = cli("animate", "--source", tmp_path / "src.png", "--driving", clip, "--out", tmp_path / "a.mp4", "--ckpt", ckpt, "--device", "cpu")
    assert code == 0, err
    assert video.probe(tmp_path / "a.mp4").frames == 2
    code, _, err = cli("lia", "directions", "--source", tmp_path / "src.png", "--out", tmp_path / "walks", "--ckpt", ckpt, "--steps", 2, "--grid-columns", 2, "--device", "cpu")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "walks").iterdir()) == ["direction_00.mp4", "direction_01.mp4", "grid.png", "walk.json"]
    model = LiaModel(ckpt)
    assert model.generator.source_warp and model.identity()["config"]["dictionary"] == "random"


def test_official_architecture_is_still_written_as_version_1(tmp_path):
    save_checkpoint(tmp_path / "g.pt", Generator(64))
    raw = torch.load(tmp_path / "g.pt", weights_only=True)
    assert raw["version"] == 1 and raw["config"] == {"size": 64, "style_dim": 512, "motion_dim": 20}


def test_older_vhq_refuses_variant_files(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "sw.pt", Generator(64, source_warp=True))
    monkeypatch.setattr(ckpt_module, "VERSION", 1)  # the reader of the previous release
    with pytest.raises(BadInput, match=r"version 2 is newer than this vhq reads \(1\)"):
        load_checkpoint(tmp_path / "sw.pt")


def test_dictionaries():
    torch.manual_seed(4)
    ortho, rand, none = Generator(64, motion_dim=6), Generator(64, motion_dim=6, dictionary="random"), Generator(64, dictionary="none")
    q = ortho.directions()
    assert torch.allclose(q.T @ q, torch.eye(6), atol=1e-5)
    assert torch.equal(rand.directions(), rand.dec.direction.weight)  # used as learned, never orthogonalised
    assert not torch.allclose(rand.directions().T @ rand.directions(), torch.eye(6), atol=1e-2)
    assert "dec.direction.weight" not in none.state_dict() and none.motion_dim == 512
    assert list(none.state_dict()["enc.fc.4.weight"].shape) == [512, 512]
    z, motion = torch.randn(2, 512), torch.randn(2, 512)
    assert torch.equal(none.dec.latent(z, motion), z + motion)  # the head's output is the displacement
    with pytest.raises(ValueError, match="no motion dictionary"):
        none.directions()
    assert infer_config(none.state_dict()) == {"size": 64, "style_dim": 512, "motion_dim": 512, "dictionary": "none"}


def test_source_flow_with_zero_offset_and_open_mask_is_the_identity():
    from lia.decoder import SourceFlow

    sf = SourceFlow(8, 16, 16)
    image = images(1, 16, 11)
    flow = torch.zeros(1, 3, 16, 16)
    flow[:, 2] = 40.0  # mask sigmoid(40) == 1 in float32
    with torch.no_grad():
        warped = sf(torch.randn(1, 8, 16, 16), torch.randn(1, 16), image, flow)  # zero-init conv: the flow is o_last
    assert torch.allclose(warped, image, atol=1e-6)  # align_corners=True: no resampling, no dark border
