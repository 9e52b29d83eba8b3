"""`vhq leaderboard render`: bootstrap intervals, Markdown/HTML/plots, and sorting in a real browser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from eval import report
from eval.leaderboard import bootstrap_interval, build_tables, per_video_weights, render
from vhq.io import files

# per-video values (l1 video-weighted; akd_dlib68 frame-weighted over akd_dlib68_frames)
MODELS = {
    "alpha": {"l1": [0.10, 0.12, 0.08], "akd": [3.0, 5.0, 4.0], "akd_frames": [10, 0, 30]},
    "beta": {"l1": [0.02, 0.03, 0.04], "akd": [9.0, 7.0, 8.0], "akd_frames": [20, 20, 20]},
    "gamma": {"l1": [0.05, 0.06, 0.07], "akd": [1.0, 2.0, 1.5], "akd_frames": [5, 5, 5]},
}
FINGERPRINT = "f" * 64


def write_board(folder: Path, unverified: str = "beta") -> Path:
    rows = []
    for name, m in MODELS.items():
        per = [{"key": f"v{i}", "frames": 40, "l1": m["l1"][i], "akd_dlib68": m["akd"][i], "akd_dlib68_frames": m["akd_frames"][i],
                "mkr_face_dlib68": 0.0, "dlib68_gt_noface": 0, "dlib68_pred_noface": 0} for i in range(3)]
        pv = files.write_csv(folder / "runs" / name / "per_video.csv", per, list(per[0]))
        f = np.array(m["akd_frames"], float)
        akd = float((np.array(m["akd"]) * f).sum() / f.sum())
        summary = [
            {"metric": "l1", "value": float(np.mean(m["l1"])), "higher_is_better": False, "protocol": "lia", "weighting": "video",
             "params": '{"size": "native"}', "n_videos": 3, "n_frames": 120, "weight": "", "weight_verified": ""},
            {"metric": "akd_dlib68", "value": akd, "higher_is_better": False, "protocol": "lia", "weighting": "frame",
             "params": '{"size": "native"}', "n_videos": 3, "n_frames": int(f.sum()), "backbone": "dlib68", "weight": "dlib68",
             "weight_sha256": "ab" * 32, "weight_verified": name != unverified, "weight_state": "verified" if name != unverified else "unverified"},
        ]
        lb = report.leaderboard_rows(summary, model=name, testset="tiny/test reconstruct", fingerprint=FINGERPRINT)
        for r in lb:
            r["details"] = json.dumps({"per_video": os.path.relpath(pv, folder), "bench": {"model": {"kind": "static"}}})
        report.append_leaderboard(folder / "leaderboard.csv", lb)
    return folder / "leaderboard.csv"


def test_bootstrap_two_videos_analytic():
    # resamples of (a, b) have means a, (a+b)/2, b with probabilities 1/4, 1/2, 1/4: the 2.5 / 97.5 % points are a and b
    assert bootstrap_interval([1.0, 3.0], resamples=4000, seed=1) == (1.0, 3.0)
    assert bootstrap_interval([2.5] * 7) == (2.5, 2.5)
    assert bootstrap_interval([], resamples=100) is None
    assert bootstrap_interval([1.0, 2.0], [0.0, 0.0]) is None


def test_bootstrap_matches_scipy_and_is_seeded():
    from scipy.stats import bootstrap

    x = np.random.default_rng(5).gamma(2.0, 1.0, 40)
    lo, hi = bootstrap_interval(x, resamples=20000, seed=0)
    ref = bootstrap((x,), np.mean, n_resamples=20000, method="percentile", confidence_level=0.95, random_state=0).confidence_interval
    assert abs(lo - ref.low) < 0.03 * x.mean() and abs(hi - ref.high) < 0.03 * x.mean()
    assert lo < x.mean() < hi
    assert bootstrap_interval(x, seed=3) == bootstrap_interval(x, seed=3) != bootstrap_interval(x, seed=4)
    # more videos from the same distribution: a narrower interval
    big = np.random.default_rng(6).gamma(2.0, 1.0, 1000)
    blo, bhi = bootstrap_interval(big, seed=0)
    assert bhi - blo < (hi - lo) / 2


def test_frame_weighted_values_from_per_video(tmp_path):
    board = write_board(tmp_path)
    table = files.read_csv(tmp_path / "runs" / "alpha" / "per_video.csv")
    v, w = per_video_weights("akd_dlib68", "frame", table)
    assert w.tolist() == [10, 0, 30]
    row = next(r for r in files.read_csv(board) if r["model"] == "alpha" and r["metric"] == "akd_dlib68")
    assert float(row["value"]) == pytest.approx((v * w).sum() / w.sum())  # the row's own weighting
    v, w = per_video_weights("l1", "video", table)
    assert w.tolist() == [1, 1, 1]
    v, w = per_video_weights("mkr_face_dlib68", "frame", table)
    assert w.tolist() == [40, 40, 40]  # frames with a GT face


def test_render_markdown_html_plots(tmp_path):
    board = write_board(tmp_path)
    res = render(board, tmp_path / "report", resamples=500)
    (t,) = build_tables(files.read_csv(board), board, resamples=500)
    assert t.models == ["beta", "gamma", "alpha"]  # best first on the first column (l1, lower is better)
    md = (tmp_path / "report" / "leaderboard.md").read_text()
    assert "| model | l1 ↓ | akd_dlib68 ↓ |" in md and FINGERPRINT in md
    beta = next(ln for ln in md.splitlines() if ln.startswith("| beta |"))
    assert beta.startswith("| beta | 0.03 [0.02") and beta.rstrip(" |").endswith("†")  # unverified weights flagged
    assert "†" not in next(ln for ln in md.splitlines() if ln.startswith("| gamma |"))
    page = (tmp_path / "report" / "leaderboard.html").read_text()
    assert "<script>" in page and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page and "<link" not in page  # self-contained
    assert 'data-better="lower"' in page and FINGERPRINT in page
    pngs = sorted(p.name for p in (tmp_path / "report" / "plots").glob("*.png"))
    assert len(pngs) == 4 and sum(n.endswith("_bars.png") for n in pngs) == 2
    assert all(p.exists() for p in res.paths)


def test_render_cli_and_bad_input(cli, tmp_path):
    board = write_board(tmp_path)
    code, out, err = cli("leaderboard", "render", board, "--out", tmp_path / "r", "--no-plots")
    assert code == 0, err
    assert "| beta |" in out and str(tmp_path / "r" / "leaderboard.html") in out
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    code, _, err = cli("leaderboard", "render", tmp_path / "bad.csv", "--out", tmp_path / "r2")
    assert code == 1 and "not a vhq leaderboard" in err


# ------------------------------------------------------------------ the browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _browser(tmp_path):
    missing = []
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install 'vhq[test]')")
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not Path(exe).is_file():
            missing.append(exe)
    if missing:
        msg = f"no headless browser: {', '.join(missing)} missing (apt-get install chromium chromium-driver)"
        if os.environ.get("VHQ_REQUIRE_BROWSER") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=subprocess.DEVNULL), options=opts)


def test_sorting_in_chromium(tmp_path):
    board = write_board(tmp_path)
    render(board, tmp_path / "report", resamples=200, plots=False)
    driver = _browser(tmp_path)
    try:
        from selenium.webdriver.common.by import By

        driver.get((tmp_path / "report" / "leaderboard.html").resolve().as_uri())

        def order():
            return [tr.get_attribute("data-model") for tr in driver.find_elements(By.CSS_SELECTOR, "#board-0 tbody tr")]

        assert order() == ["beta", "gamma", "alpha"]  # as rendered: by l1
        akd = driver.find_element(By.CSS_SELECTOR, '#board-0 th[data-metric="akd_dlib68"]')
        akd.click()
        assert order() == ["gamma", "alpha", "beta"]  # akd ascending: 1.5, 3.75, 8.0
        assert akd.get_attribute("aria-sort") == "ascending"
        akd.click()
        assert order() == ["beta", "alpha", "gamma"]
        driver.find_element(By.CSS_SELECTOR, "#board-0 th[data-type=text]").click()
        assert order() == ["alpha", "beta", "gamma"]
    finally:
        driver.quit()
