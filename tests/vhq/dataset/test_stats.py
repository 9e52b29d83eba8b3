"""vhq stats: counts, histograms, plot and dataset card from a crop folder."""

from __future__ import annotations

import json

from vhq.dataset.stats import DURATION_BINS, histogram
from vhq.testing.crop_folder import clip, make_crops


def test_histogram_bins():
    h = histogram([0.5, 2.56, 4.9, 5.0, 45.0], DURATION_BINS, "s")
    assert h == {"0-2.56s": 1, "2.56-5s": 2, "5-10s": 1, "10-20s": 0, "20-41s": 0, ">= 41s": 1}


def test_stats_counts_plot_and_card(tmp_path, cli):
    clips = [clip("id1", "vA", 0, "train"), clip("id1", "vA", 200, "train"), clip("id2", "vB", 0, "train"), clip("id3", "vC", 0, "test")]
    crops = make_crops(tmp_path, clips, {clips[1].clip_id: "too-small"}, box="fomm-stretch")
    code, out, err = cli("stats", crops)
    assert code == 0, err
    d = json.loads((crops / "stats.json").read_text())
    assert d["counts"]["all"] == {"clips": 3, "identities": 3, "videos": 3, "frames": 300, "hours": round(300 / 25 / 3600, 3)}
    assert d["counts"]["test"]["clips"] == 1 and d["counts"]["train"]["identities"] == 2
    assert d["source_heights"] == {"1080": 3} and d["crop_side_px"]["500-600px"] == 3 and d["duration_s"]["2.56-5s"] == 3
    assert d["not_ok"] == {"too-small": 1} and d["box"] == {"fomm-stretch": 3}
    assert (crops / "stats.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = (crops / "DATASET_CARD.md").read_text()
    for needle in ("VoxCeleb", "YouTube", "Terms of Service", "Removal requests", d["manifest_fingerprint"], "3 face clips of 3 identities", "vhq crop --box fomm-stretch"):
        assert needle in card
    assert "| all | 3 | 3 | 3 | 300 |" in out
