"""Leaderboard schema and locked appends."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from eval import report
from vhq.errors import BadInput
from vhq.io import files


def _rows(model: str, n: int = 3, value: float = 1.0) -> list[dict]:
    summary = [{"metric": f"m{i}", "value": value + i, "protocol": "lia", "weighting": "frame", "params": "{}"} for i in range(n)]
    return report.leaderboard_rows(summary, model=model, testset="gt", fingerprint="f" * 64)


def _append_many(path: str, worker: int, times: int) -> None:
    for t in range(times):
        report.append_leaderboard(path, _rows(f"w{worker}-{t}"))


def test_four_processes_appending_at_once_lose_no_row(tmp_path):
    path = tmp_path / "lb.csv"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(path), w, 8)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    rows = files.read_csv(path)
    assert len(rows) == 4 * 8 * 3
    assert len({(r["model"], r["metric"]) for r in rows}) == len(rows)
    assert list(rows[0]) == report.LEADERBOARD_FIELDS
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


def test_rerun_replaces_its_rows_in_place_and_keeps_others(tmp_path):
    path = tmp_path / "lb.csv"
    report.append_leaderboard(path, _rows("a"))
    report.append_leaderboard(path, _rows("b"))
    report.append_leaderboard(path, _rows("a", value=5.0))
    rows = files.read_csv(path)
    assert [r["model"] for r in rows] == ["a"] * 3 + ["b"] * 3
    assert [float(r["value"]) for r in rows[:3]] == [5.0, 6.0, 7.0]
    other_protocol = _rows("a")
    for r in other_protocol:
        r["protocol"] = "fomm"
    report.append_leaderboard(path, other_protocol)
    assert len(files.read_csv(path)) == 9


def test_schema_holds_distribution_metrics(tmp_path):
    """FVD-style rows (N samples, trials mean/std, set weighting) fit without new columns."""
    row = report.leaderboard_rows(
        [{"metric": "fvd_i3d_16f", "value": 123.4, "value_std": 2.5, "trials": 10, "n_samples": 2048, "weighting": "set", "protocol": "digan", "params": '{"clip": 16, "stride": 1}'}],
        model="m", testset="gt", fingerprint="x",
    )
    path = report.append_leaderboard(tmp_path / "lb.csv", row)
    r = files.read_csv(path)[0]
    assert (r["value_std"], r["trials"], r["n_samples"], r["weighting"]) == ("2.5", "10", "2048", "set")


def test_foreign_csv_is_refused(tmp_path):
    path = tmp_path / "lb.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(BadInput, match="not a vhq leaderboard"):
        report.append_leaderboard(path, _rows("a"))
    assert path.read_text() == "a,b\n1,2\n"


def test_one_summary_printer_keeps_each_command_format():
    paired = {"metric": "l1", "value": "0.25", "value_std": "", "protocol": "lia", "weighting": "video", "n_videos": "3",
              "weight_verified": "", "weight_state": ""}
    lpips = {**paired, "metric": "lpips_alex", "value": "", "weight_verified": "False", "weight_state": "unverified+verified"}
    fvd = {**paired, "metric": "fvd_i3d", "value": "12.3456789", "value_std": "0.5", "protocol": "digan", "weighting": "set",
           "weight_verified": "False", "weight_state": "unverified"}
    assert report.summary_line(paired, "paired") == "  l1                                 0.25  video-weighted"
    assert report.summary_line(lpips, "paired") == "  lpips_alex                          n/a  video-weighted  (unverified weights)"
    assert report.summary_line(fvd, "set") == "  fvd_i3d                         12.3457 ± 0.5  digan, N=3  (unverified weights)"
    assert report.summary_line(paired, "bench") == "  l1                         0.25  lia, video-weighted, 3 videos"
    assert report.summary_line(lpips, "bench") == "  lpips_alex                  n/a  lia, video-weighted, 3 videos  (weights unverified+verified)"
    assert report.summary_line(fvd, "bench") == "  fvd_i3d                 12.3457 ± 0.5  digan, set-weighted, 3 videos  (weights unverified)"
