"""The 512 model end to end: build, save/load in our format, render absolute and relative frames."""

import pytest
import torch

from lia import Discriminator, Generator, load_checkpoint, save_checkpoint
from lia.animate import animate


@pytest.mark.slow
def test_size_512_end_to_end(tmp_path):
    torch.manual_seed(0)
    g, d = Generator(512).eval(), Discriminator(512).eval()
    save_checkpoint(tmp_path / "lia512.pt", g, d)
    raw = torch.load(tmp_path / "lia512.pt", weights_only=True)
    assert raw["config"]["size"] == 512
    g2 = load_checkpoint(tmp_path / "lia512.pt").generator().eval()
    src = torch.randint(0, 256, (512, 512, 3), dtype=torch.uint8)
    drv = torch.randint(0, 256, (2, 512, 512, 3), dtype=torch.uint8)
    with torch.no_grad():
        rel = torch.cat(list(animate(g2, src, iter([drv]), mode="relative", batch=2)))
        ab = torch.cat(list(animate(g2, src, iter([drv]), mode="absolute", batch=2)))
        score = d(torch.rand(2, 3, 512, 512) * 2 - 1)
    assert rel.shape == ab.shape == (2, 512, 512, 3) and rel.dtype == torch.uint8
    assert not torch.equal(rel[1], ab[1])  # relative motion differs from absolute on a non-start frame
    assert score.shape == (2, 1) and torch.isfinite(score).all()
