"""The LIA-X generator's state_dict is the released one, key for key; files load strictly with weights_only."""

from __future__ import annotations

import pytest
import torch

from lia.x.checkpoint import infer_config, load_generator
from lia.x.generator import LiaXGenerator, build_on_meta
from vhq.errors import BadInput


def test_full_size_on_meta_matches_the_released_manifest(liax_manifest):
    g = build_on_meta()
    state = g.state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == liax_manifest
    assert len(state) == 596
    assert sum(p.numel() for p in g.parameters()) == 910_571_751
    kernels = [k for k, _ in g.named_buffers()]
    assert len(kernels) == 41 and all(k.endswith(".kernel") for k in kernels)
    assert infer_config(state).as_dict() == {"size": 512, "scale": 2, "style_dim": 1024, "motion_dim": 40}


def test_tiny_file_loads_strictly_with_every_tensor(tiny_liax_file, tiny_liax, tiny_config):
    saved = torch.load(tiny_liax_file, weights_only=True)
    assert tiny_liax.config == tiny_config
    loaded = tiny_liax.state_dict()
    assert loaded.keys() == saved.keys()
    assert all(torch.equal(loaded[k], saved[k]) for k in saved)
    assert not any(t.is_meta for t in list(tiny_liax.parameters()) + list(tiny_liax.buffers()))


def test_blur_kernels_are_the_upstream_constants(tiny_liax):
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k2 = torch.outer(k, k) / 64
    state = tiny_liax.state_dict()
    assert torch.equal(state["enc.enc_2r.block2.0.conv2.0.kernel"], k2)  # downsampling blur
    assert torch.equal(state["dec.conv2_2_up.0.kernel"], 4 * k2)  # upsampler: x4
    assert torch.equal(state["dec.rgb_512.up.kernel"], 4 * k2)
    assert torch.equal(state["dec.conv_512_1.conv.blur.kernel"], 4 * k2)


def test_wrong_files_are_one_line_errors(tmp_path, random_liax_state):
    state = random_liax_state()
    del state["dec.flow2.bias"]
    bad = tmp_path / "missing.pt"
    torch.save(state, bad)
    with pytest.raises(BadInput, match=r"missing\.pt: does not match the LIA-X layout"):
        load_generator(bad)
    lia = tmp_path / "lia.pt"
    torch.save({"dec.direction.weight": torch.zeros(8, 4), "dec.to_flows.0.bias": torch.zeros(1, 3, 1, 1)}, lia)
    with pytest.raises(BadInput, match="this is a LIA checkpoint, not LIA-X"):
        load_generator(lia)
    code = tmp_path / "code.pt"
    torch.save({"gen": state, "opt": torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)}, code)
    with pytest.raises(BadInput, match="code.pt"):
        load_generator(code)


def test_narrow_widths_must_suit_the_group_norm():
    with pytest.raises(ValueError, match="multiple of 32"):
        LiaXGenerator(size=64, scale=0.25, style_dim=64, motion_dim=40)
