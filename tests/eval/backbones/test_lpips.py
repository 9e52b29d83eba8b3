"""LPIPS: parity with the lpips package for the same trunk weights; missing weights refuse to run."""

from __future__ import annotations

import pytest
import torch

from eval.backbones.lpips_alex import LpipsAlex
from eval.functional import lpips_per_frame
from vhq.errors import MissingWeights


def _reference(trunk_file):
    import lpips

    ref = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)  # lin layers from the wheel, trunk random …
    sd = torch.load(trunk_file, weights_only=True)
    slices = [ref.net.slice1, ref.net.slice2, ref.net.slice3, ref.net.slice4, ref.net.slice5]
    n = 0
    for sl in slices:  # … then the same trunk weights loaded into it
        for idx, mod in sl.named_children():
            if hasattr(mod, "weight"):
                mod.weight.data.copy_(sd[f"features.{idx}.weight"])
                mod.bias.data.copy_(sd[f"features.{idx}.bias"])
                n += 1
    assert n == 5
    return ref.eval()


def test_lpips_matches_reference_package(cli, weight_files):
    code, out, err = cli("weights", "import", "alexnet", weight_files["alexnet"], "--no-verify")
    assert code == 0, err
    net = LpipsAlex.from_registry()
    ref = _reference(weight_files["alexnet"])
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (4, 64, 64, 3), dtype=torch.uint8, generator=g)
    b = torch.randint(0, 256, (4, 64, 64, 3), dtype=torch.uint8, generator=g)
    ours = lpips_per_frame(a, b, net)
    with torch.no_grad():
        theirs = ref(a.permute(0, 3, 1, 2).float() / 255, b.permute(0, 3, 1, 2).float() / 255, normalize=True).flatten()
    assert ours.shape == (4,) and (ours > 0).all()
    assert torch.allclose(ours, theirs.double(), atol=1e-6, rtol=0)
    assert lpips_per_frame(a, a.clone(), net).abs().max().item() == 0.0
    assert net.provenance()["weight_verified"] is False  # imported with --no-verify


def test_lpips_refuses_without_trunk():
    with pytest.raises(MissingWeights, match="alexnet"):
        LpipsAlex.from_registry()


def test_lpips_rejects_a_wrong_file(tmp_path):
    from vhq import weights
    from vhq.errors import BadInput

    bad = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    weights.import_file("alexnet", bad, no_verify=True)
    with pytest.raises(BadInput, match="does not fit"):
        LpipsAlex.from_registry()
