"""`vhq lia analyze`: angles and norms of a rule-made basis, alpha statistics of a rule-made motion head."""

from __future__ import annotations

import json
import math

import pytest
import torch

from lia import Generator, save_checkpoint
from lia.analysis import direction_angles
from vhq.testing.synthetic import write_clips


def rule_made_generator() -> Generator:
    """Directions e0, cos60·e0 + sin60·e1, 2·e2 (angles 60°, 90°, 90°; norms 1, 1, 2); alpha = (1, 2, 3) for every image."""
    torch.manual_seed(9)
    g = Generator(64, motion_dim=3, dictionary="random")
    with torch.no_grad():
        w = torch.zeros(512, 3)
        w[0, 0] = 1.0
        w[0, 1], w[1, 1] = math.cos(math.pi / 3), math.sin(math.pi / 3)
        w[2, 2] = 2.0
        g.dec.direction.weight.copy_(w)
        g.enc.fc[4].weight.zero_()
        g.enc.fc[4].bias.copy_(torch.tensor([1.0, 2.0, 3.0]))
    return g


def test_angles_of_a_rule_made_basis():
    q = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
    assert torch.allclose(direction_angles(q), torch.tensor([[0, 45, 90], [45, 0, 90], [90, 90, 0]], dtype=torch.float64), atol=1e-9)
    assert direction_angles(-torch.eye(3)[:, :2] + torch.tensor([[0.0, 1.0]] * 3))[0, 1] > 90  # obtuse pairs are not folded


@pytest.mark.slow
def test_analyze_reports_known_angles_norms_and_alpha(cli, tmp_path):
    ckpt = save_checkpoint(tmp_path / "rule.pt", rule_made_generator())
    write_clips(tmp_path / "clips", count=2, frames=3, side=64)
    out = tmp_path / "analysis"
    code, stdout, err = cli("lia", "analyze", ckpt, "--out", out, "--clips", tmp_path / "clips", "--frames", 2, "--json", "--device", "cpu")
    assert code == 0, err
    result = json.loads(stdout)
    assert result == json.loads((out / "analysis.json").read_text())
    expected = torch.tensor([[0.0, 60.0, 90.0], [60.0, 0.0, 90.0], [90.0, 90.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(torch.tensor(result["angles_deg"], dtype=torch.float64), expected, atol=1e-4)
    assert result["angle_pairs_deg"]["min"] == pytest.approx(60, abs=1e-4) and result["angle_pairs_deg"]["mean"] == pytest.approx(80, abs=1e-4)
    assert result["norms"] == pytest.approx([1.0, 1.0, 2.0], abs=1e-6)
    assert result["alpha"]["clips"] == 2 and result["alpha"]["frames"] == 4
    assert result["alpha"]["mean"] == pytest.approx([1.0, 2.0, 3.0], abs=1e-5) and result["alpha"]["std"] == pytest.approx([0, 0, 0], abs=1e-3)
    assert result["pngs"] == ["alpha.png", "angles.png", "norms.png"]
    for name in result["pngs"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyze_refuses_a_model_without_dictionary(cli, tmp_path):
    torch.save(Generator(64, dictionary="none").state_dict(), tmp_path / "nodict.pt")
    code, _, err = cli("lia", "analyze", tmp_path / "nodict.pt", "--out", tmp_path / "a", "--device", "cpu")
    assert code == 1 and "error:" in err and "nodict.pt" in err and "no motion dictionary" in err
    assert not (tmp_path / "a").exists()
