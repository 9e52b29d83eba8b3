"""I3D and 3D ResNeXt-101: layouts equal the checkpoint manifests; real-format files load through the registry."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from eval.backbones import i3d as i3d_mod
from eval.backbones.common import load_strict
from eval.backbones.i3d import InceptionI3d, load_i3d, state_from_foreign
from eval.backbones.resnext3d import ResNeXt3D, load_resnext101, resnext101
from vhq import weights
from vhq.errors import BadInput, MissingWeights
from vhq.testing.random_weights import manifest as _manifest
from vhq.testing.random_weights import random_state as _random_state
from vhq.testing.random_weights import real_weight_file
from vhq.weights.convert import TORCHSCRIPT_EXPORT, is_torchscript_archive, load_plain


def _shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def test_i3d_state_dict_equals_the_manifest():
    assert _shapes(InceptionI3d()) == _manifest("i3d_pretrained_400")
    ckpt = _manifest("i3d_pretrained_400.checkpoint")
    assert set(ckpt) == {k for k in _manifest("i3d_pretrained_400") if not k.endswith("num_batches_tracked")}
    bn = InceptionI3d().Mixed_3b.b1b.bn
    assert (bn.eps, bn.momentum) == (1e-5, 1e-3)


def test_resnext_state_dict_equals_the_manifest():
    model = resnext101()
    assert _shapes(model) == _manifest("resnext101_kinetics")
    ckpt = _manifest("resnext101_kinetics.checkpoint")
    assert {k.removeprefix("module.") for k in ckpt} == {k for k in _manifest("resnext101_kinetics") if not k.endswith("num_batches_tracked")}


def test_missing_weight_names_the_import_command():
    with pytest.raises(MissingWeights) as err:
        load_i3d()
    assert "i3d_pretrained_400" in str(err.value)


def test_i3d_checkpoint_format_loads_through_registry_and_gives_400d(tmp_path):
    state = _random_state(_manifest("i3d_pretrained_400.checkpoint"))
    f = tmp_path / "i3d_pretrained_400.pt"
    torch.save(state, f)
    weights.import_file("i3d_pretrained_400", f, no_verify=True)
    model = load_i3d()
    assert not model.training
    torch.testing.assert_close(model.Mixed_4c.b1b.conv3d.weight, state["Mixed_4c.b1b.conv3d.weight"])
    torch.testing.assert_close(model.logits.conv3d.bias, state["logits.conv3d.bias"])
    clips = torch.rand(2, 3, 16, 64, 64) * 2 - 1
    with torch.no_grad():
        feats = model(clips)
    assert feats.shape == (2, 400) and torch.isfinite(feats).all()
    # Per-clip features do not depend on the batch they are computed in.
    with torch.no_grad():
        torch.testing.assert_close(model(clips[1:]), feats[1:], rtol=1e-4, atol=1e-4)
    assert weights.provenance("i3d_pretrained_400")["weight_state"] == "unverified"


def test_i3d_rejects_too_few_frames_and_wrong_layouts(tmp_path):
    with pytest.raises(BadInput, match="at least 9 frames"):
        InceptionI3d()(torch.zeros(1, 3, 8, 64, 64))
    bad = _random_state(_manifest("i3d_pretrained_400.checkpoint"))
    bad.pop("Mixed_5c.b0.conv3d.weight")
    bad["extra.weight"] = torch.zeros(1)
    f = tmp_path / "bad.pt"
    torch.save(bad, f)
    weights.import_file("i3d_pretrained_400", f, no_verify=True)
    with pytest.raises(BadInput, match="missing keys.*unexpected keys"):
        load_i3d()


@pytest.mark.slow
def test_resnext_kinetics_checkpoint_loads_through_registry_and_gives_2048d(tmp_path):
    state = _random_state(_manifest("resnext101_kinetics.checkpoint"), seed=1)
    assert all(k.startswith("module.") for k in state)
    f = tmp_path / "resnext-101-kinetics.pth"
    torch.save({"epoch": 200, "arch": "resnext-101", "state_dict": state, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]}}, f)
    weights.import_file("resnext101_kinetics", f, no_verify=True)
    model = load_resnext101()
    torch.testing.assert_close(model.layer3[22].conv2.weight, state["module.layer3.22.conv2.weight"])
    with torch.no_grad():
        feats = model(torch.randn(2, 3, 16, 112, 112) * 50)
    assert feats.shape == (2, 2048) and torch.isfinite(feats).all()
    assert model.pool_kernel == (1, 4, 4)


def _traced_foreign_i3d(tmp_path, eps: float, seed: int = 3):
    """A TorchScript I3D like StyleGAN-V's: executable file, TF BatchNorm eps."""
    model = InceptionI3d()
    model.load_state_dict({**model.state_dict(), **_random_state(_manifest("i3d_pretrained_400.checkpoint"), seed)})
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.eps = eps
    example = torch.rand(1, 3, 16, 32, 32) * 2 - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, example)
        path = tmp_path / "i3d_torchscript.pt"
        torch.jit.save(traced, str(path))
    return model, path


def test_torchscript_import_converts_to_our_state_dict(tmp_path):
    reference, ts_path = _traced_foreign_i3d(tmp_path, eps=1e-3)
    # The original is checked against the published git blob id before conversion.
    with pytest.raises(BadInput, match="does not match"):
        weights.import_file("i3d_torchscript", ts_path)
    assert not weights.status("i3d_torchscript").present
    # The cache refuses to load a TorchScript archive as weights (it would execute code).
    with pytest.raises(BadInput, match="TorchScript archive"):
        load_plain(ts_path)
    st = weights.import_file("i3d_torchscript", ts_path, no_verify=True)
    assert weights.provenance("i3d_torchscript")["weight_state"] == "unverified"
    assert not list(st.path.parent.glob("*.part*"))
    # The cached file holds the archive's tensors and BatchNorm eps: loadable with weights_only=True.
    cached = torch.load(st.path, map_location="cpu", weights_only=True)
    assert cached["format"] == TORCHSCRIPT_EXPORT
    assert set(cached["tensors"]) == set(InceptionI3d().state_dict())
    assert set(cached["batchnorm_eps"].values()) == {1e-3}
    model = load_i3d("i3d_torchscript")
    clips = torch.rand(2, 3, 16, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(model(clips), reference(clips), rtol=1e-4, atol=1e-4)


def test_foreign_names_and_eps_map_by_order():
    reference = InceptionI3d()
    reference.load_state_dict({**reference.state_dict(), **_random_state(_manifest("i3d_pretrained_400.checkpoint"), 5)})
    for m in reference.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.eps = 1e-3
    renamed, eps_of = OrderedDict(), {}
    for i, (k, v) in enumerate(reference.state_dict().items()):
        if k.endswith("num_batches_tracked"):
            continue
        unit, _, leaf = k.rpartition(".")
        new_unit = unit.replace(".conv3d", ".conv").replace(".bn", ".batch_norm").replace("Mixed_", "block")
        renamed[f"net.{new_unit}.{leaf}"] = v
        if ".bn" in unit:
            eps_of[f"net.{new_unit}"] = 1e-3
    converted = state_from_foreign(renamed, eps_of)
    model = InceptionI3d()
    load_strict(model, converted, "converted", "I3D")
    clips = torch.rand(1, 3, 16, 48, 48) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(model(clips), reference.eval()(clips), rtol=1e-4, atol=1e-4)


def test_batchnorm_folded_into_conv_bias_converts():
    reference = InceptionI3d()
    reference.load_state_dict({**reference.state_dict(), **_random_state(_manifest("i3d_pretrained_400.checkpoint"), 6)})
    folded = OrderedDict()
    for prefix, unit in i3d_mod._units(reference):
        w = unit.conv3d.weight.detach()
        if hasattr(unit, "bn"):
            bn = unit.bn
            scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
            folded[f"{prefix}.w.weight"] = w * scale.view(-1, 1, 1, 1, 1)
            folded[f"{prefix}.w.bias"] = bn.bias.detach() - bn.running_mean * scale
        else:
            folded[f"{prefix}.w.weight"] = w
            folded[f"{prefix}.w.bias"] = unit.conv3d.bias.detach()
    model = InceptionI3d()
    load_strict(model, state_from_foreign(folded), "folded", "I3D")
    clips = torch.rand(1, 3, 16, 48, 48) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(model(clips), reference(clips), rtol=1e-4, atol=1e-4)


def test_conversion_refuses_a_different_network():
    with pytest.raises(BadInput, match="convolution units"):
        state_from_foreign({"a.weight": torch.zeros(4, 3, 3, 3, 3)})


@pytest.mark.realweights
def test_torchscript_parity_with_real_file(tmp_path):
    """Our converted I3D against StyleGAN-V's TorchScript itself (only where the real file is at hand)."""
    import os

    src = os.environ.get("VHQ_I3D_TORCHSCRIPT_FILE") or real_weight_file("i3d_torchscript", "i3d_torchscript.pt")
    if not src or not Path(src).is_file() or not is_torchscript_archive(Path(src)):
        pytest.skip("the original i3d_torchscript.pt is not at hand (set VHQ_I3D_TORCHSCRIPT_FILE)")
    weights.import_file("i3d_torchscript", src)
    assert weights.provenance("i3d_torchscript")["weight_verified"]
    model = load_i3d("i3d_torchscript")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        detector = torch.jit.load(src, map_location="cpu").eval()
    g = torch.Generator().manual_seed(0)
    videos = torch.randint(0, 256, (2, 3, 16, 224, 224), generator=g, dtype=torch.uint8)
    with torch.no_grad():
        theirs = detector(videos, rescale=True, resize=True, return_features=True)
        ours = model(videos.float() / 255 * 2 - 1)
    torch.testing.assert_close(ours, theirs.float(), rtol=1e-3, atol=1e-3)


@pytest.mark.realweights
def test_fvd_calibration_zeros_vs_255_is_about_131():
    """The reference implementation's example: 16 videos × 15 frames, 64×64, all 0 vs all 255 → FVD ≈ 131."""
    from eval.functional.frechet import frechet_distance_from_features
    from eval.video_protocols import get_protocol, preprocess_clip

    real = real_weight_file("i3d_pretrained_400", "i3d_pretrained_400.pt")
    if real is None:
        pytest.skip("the real i3d_pretrained_400.pt is not in the user cache (VHQ_REAL_CACHE)")
    weights.import_file("i3d_pretrained_400", real)  # must match the published git blob id
    model = load_i3d()
    p = get_protocol("tats")  # direct resize to 224, as the TF example
    with torch.no_grad():
        black = model(preprocess_clip(torch.zeros(15, 64, 64, 3, dtype=torch.uint8), p)[None])
        white = model(preprocess_clip(torch.full((15, 64, 64, 3), 255, dtype=torch.uint8), p)[None])
    fvd = frechet_distance_from_features(black.double().repeat(16, 1), white.double().repeat(16, 1))
    assert fvd == pytest.approx(131, rel=0.05)


# ---------------------------------------------------------------- peer oracles (their code, our random weights)


def _hara_resnext():
    """Kensho Hara's original ``models/resnext.py``, vendored with its licence under tests/data/peers."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "data" / "peers" / "hara_resnext.py"
    spec = importlib.util.spec_from_file_location("hara_resnext", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_resnext_equals_haras_original_resnext_on_the_same_weights():
    """Oracle: 3D-ResNets-PyTorch's ResNeXt (shortcut B, cardinality 32), one block per stage, 16×64×64 clips."""
    peer_mod = _hara_resnext()
    peer = peer_mod.ResNeXt(peer_mod.ResNeXtBottleneck, [1, 1, 1, 1], sample_size=64, sample_duration=16)
    ours = ResNeXt3D(layers=(1, 1, 1, 1), sample_size=64, sample_duration=16)
    state = _random_state({k: list(v.shape) for k, v in peer.state_dict().items()}, seed=4)
    peer.load_state_dict(state)
    load_strict(ours, state, "random", "ResNeXt")
    peer.fc = torch.nn.Identity()  # its forward then returns the flattened avgpool output: the FID feature
    clips = torch.randn(2, 3, 16, 64, 64, generator=torch.Generator().manual_seed(0)) * 50
    with torch.no_grad():
        torch.testing.assert_close(ours(clips), peer.eval()(clips), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_i3d_equals_cd_fvds_i3d_on_the_same_file(tmp_path):
    """Oracle: cd-fvd's ``pytorch_i3d.InceptionI3d`` loading the same i3d_pretrained_400-format file (16×224×224)."""
    pytorch_i3d = pytest.importorskip("cdfvd.third_party.i3d.pytorch_i3d")
    f = tmp_path / "i3d_pretrained_400.pt"
    torch.save(_random_state(_manifest("i3d_pretrained_400.checkpoint"), seed=9), f)
    peer = pytorch_i3d.InceptionI3d(400, in_channels=3)
    peer.load_state_dict(torch.load(f, weights_only=True))
    weights.import_file("i3d_pretrained_400", f, no_verify=True)
    ours = load_i3d()
    clips = torch.rand(1, 3, 16, 224, 224, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(ours(clips), peer.eval()(clips), rtol=1e-4, atol=1e-4)
