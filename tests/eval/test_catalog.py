"""The metric catalog: every row resolves, one name normaliser, and a new row is all a frame metric needs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eval import catalog
from vhq import weights
from vhq.errors import BadInput
from vhq.io import files, video


def test_every_row_resolves_and_names_registry_weights():
    columns = [m.column for m in catalog.METRICS.values()]
    assert len(columns) == len(set(columns))
    for m in catalog.METRICS.values():
        assert m.kind in ("paired", "distribution")
        if m.per_frame:
            assert callable(catalog.resolve(m.per_frame))
        if m.backbone is not None:
            assert callable(catalog.resolve(m.backbone.load))
        for w in m.weights:
            assert weights.entry(w).name == w
        for protocol in catalog.PROTOCOLS if m.kind == "paired" else ("stylegan-v",):
            assert m.weighting_under(protocol) in ("frame", "video", "set")


def test_defaults_and_names_per_kind():
    assert catalog.default_names("paired") == "l1,lpips,akd,mkr,aed"
    assert catalog.default_names("distribution") == "fvd_i3d,kvd,fid_r3dx101,acd,csim"
    assert catalog.names("paired") == "l1, lpips, akd, mkr, akd_dlib68, mkr_dlib68, aed, aed_facenet"
    assert [m.name for m in catalog.parse_metrics(None)] == ["l1", "lpips", "akd", "mkr", "aed"]


def test_one_normaliser_order_and_errors():
    assert catalog.normalise(" L1, akd-DLIB68,,") == ["l1", "akd_dlib68"]
    assert [m.name for m in catalog.parse_metrics("aed,L1,l1")] == ["l1", "aed"]  # catalog order, once each
    assert [m.name for m in catalog.parse_metrics("csim,l1,csim", None, ordered=False)] == ["csim", "l1"]
    with pytest.raises(BadInput, match="names no metric"):
        catalog.parse_metrics(" , ")
    with pytest.raises(BadInput, match=r"unknown metric\(s\): fvd_i3d") as e:
        catalog.parse_metrics("l1,fvd_i3d", "paired")
    assert e.value.hint == f"choose from: {catalog.names('paired')}"
    with pytest.raises(BadInput, match=r"unknown metric\(s\): fid") as e:
        catalog.parse_metrics("fid", None)
    assert "fid_r3dx101" in e.value.hint and "l1" in e.value.hint


def test_default_aed_is_openface_for_both_protocols():
    aed = catalog.METRICS["aed"]
    assert aed.column == "aed_openface" and aed.backbone.weights == ("openface",) and aed.default
    assert not catalog.METRICS["aed_facenet"].default
    assert [m.name for m in catalog.parse_metrics("aed_openface,aed,lpips_alex")] == ["lpips", "aed"]  # a column names its row
    for protocol in catalog.PROTOCOLS:
        assert aed.weighting_under(protocol) == "frame"


def test_columns_carry_the_aed_settings_and_map_back_to_rows():
    aed = catalog.METRICS["aed_facenet"]
    assert aed.csv_column("mtcnn", "l2") == "aed_facenet_mtcnn_l2" and aed.csv_column() == "aed_facenet"
    assert catalog.by_column("aed_facenet_mtcnn") is aed
    assert catalog.by_column("aed_openface") is catalog.METRICS["aed"]
    assert catalog.by_column("mkr_face_dlib68") is catalog.METRICS["mkr_dlib68"]
    assert catalog.by_column("fvd_i3d_16f") is None
    assert catalog.install_hint("dlib68") == "pip install 'vhq[landmarks]'" and catalog.install_hint("fan2d") == ""


def test_a_new_frame_metric_is_one_row(tmp_path, monkeypatch):
    """A row naming a per-frame function is scored, written and summarised with no runner change."""
    from eval.options import EvalOptions
    from eval.paired import evaluate

    row = catalog.Metric("l1_copy", "l1_copy", "paired", "frames", per_frame="eval.functional.l1:l1_per_frame", weighting="frame")
    monkeypatch.setitem(catalog.METRICS, row.name, row)
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    video.write_frames(gt / "a", torch.full((3, 16, 16, 3), 100, dtype=torch.uint8))
    video.write_frames(pred / "a", torch.full((3, 16, 16, 3), 110, dtype=torch.uint8))
    res = evaluate(pred, gt, EvalOptions(metrics=catalog.parse_metrics("l1_copy,l1")), progress=False)
    assert res.columns == ["key", "frames", "l1", "l1_copy"]
    assert res.results[0].row["l1_copy"] == res.results[0].row["l1"] == repr(10 / 255)
    summary = {r["metric"]: r for r in res.summary}
    assert (summary["l1_copy"]["weighting"], summary["l1"]["weighting"]) == ("frame", "video")
    assert summary["l1_copy"]["value"] == pytest.approx(10 / 255, abs=1e-15) and summary["l1_copy"]["backbone"] == "none"
    files.write_csv(tmp_path / "pv.csv", [r.row for r in res.results], res.columns)
    assert np.isclose(float(files.read_csv(tmp_path / "pv.csv")[0]["l1_copy"]), 10 / 255)
