"""Fault cases of leaderboard files: a malformed row is named by line and column, names are shown literally,
and a file vhq cannot parse exactly is never rewritten."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from eval import report
from vhq.io import files
from vhq.testing.faults import Fault, unwritable_folder

UNWRITABLE = unwritable_folder()


def board(root: Path, model: str = "alpha", **overrides) -> Path:
    """A one-model leaderboard (l1, video-weighted) with its per-video file; ``overrides`` replace fields of the row."""
    pv = files.write_csv(root / "runs" / "per_video.csv", [{"key": f"v{i}", "frames": 10, "l1": 0.1 * (i + 1)} for i in range(3)], ["key", "frames", "l1"])
    summary = [{"metric": "l1", "value": 0.2, "higher_is_better": False, "protocol": "lia", "weighting": "video", "params": "{}", "n_videos": 3, "n_frames": 30}]
    rows = report.leaderboard_rows(summary, model=model, testset="tiny", fingerprint="f" * 64)
    rows[0]["details"] = json.dumps({"per_video": str(pv.relative_to(root))})
    rows[0].update(overrides)
    files.write_csv(root / "leaderboard.csv", rows, report.LEADERBOARD_FIELDS)
    return root / "leaderboard.csv"


def render(*extra, **overrides):
    def build(root: Path):
        return ["leaderboard", "render", board(root, **overrides), "--out", root / "page", "--resamples", "100", "--no-plots", *extra]
    return build


def render_with_plots(model: str):
    return lambda root: ["leaderboard", "render", board(root, model=model), "--out", root / "page", "--resamples", "100"]


def with_extra_field(root: Path) -> Path:
    path = board(root)
    text = path.read_text().rstrip("\n") + ",surplus\n"
    path.write_text(text)
    return path


def corrupt_per_video(root: Path):
    path = board(root)
    pv = root / "runs" / "per_video.csv"
    pv.write_text(pv.read_text().replace("0.2", "abc"))
    return ["leaderboard", "render", path, "--out", root / "page", "--resamples", "100", "--no-plots"]


def huge_details(root: Path):
    return render(details=json.dumps({"note": "x" * (200 << 10)}))(root)


def markdown_has_one_row_of_four_cells(root: Path) -> None:
    md = (root / "page" / "leaderboard.md").read_text()
    table = [ln for ln in md.splitlines() if ln.startswith("| ") and "l1" not in ln]
    assert len(table) == 1 and table[0].count(" | ") == 1, table  # | model | value |: one column break
    page = (root / "page" / "leaderboard.html").read_text()
    assert "&lt;b&gt;" in page and "<b>x" not in page


def plotted(root: Path) -> None:
    assert list((root / "page" / "plots").glob("*.png"))


CASES = [
    Fault("details-json-not-object", render(details="[1, 2]"), 1, r"^error: .*leaderboard\.csv: line 2: column details: JSON but not an object", absent=("page",)),
    Fault("details-not-json", render(details="{oops"), 1, r"^error: .*leaderboard\.csv: line 2: column details: not JSON", absent=("page",)),
    Fault("bench-field-a-string", render(details=json.dumps({"bench": "lia"})), 1, r"^error: .*line 2: column details: 'bench'", absent=("page",)),
    Fault("bench-model-a-list", render(details=json.dumps({"bench": {"model": [1]}})), 1, r"^error: .*line 2: column details: 'bench'", absent=("page",)),
    Fault("value-not-a-number", render(value="abc"), 1, r"^error: .*line 2: column value: 'abc' is not a number", absent=("page",)),
    Fault("n-videos-superscript", render(n_videos="²"), 1, r"^error: .*line 2: column n_videos: '²' is not a count", absent=("page",)),
    Fault("higher-is-better-garbage", render(higher_is_better="maybe"), 1, r"^error: .*line 2: column higher_is_better", absent=("page",)),
    Fault("row-with-an-extra-field", lambda r: ["leaderboard", "render", with_extra_field(r), "--out", r / "page", "--no-plots"], 1,
          r"^error: .*leaderboard\.csv: line 2: 1 more field\(s\) than the header", absent=("page",)),
    Fault("per-video-value-not-a-number", corrupt_per_video, 1, r"^error: runs/per_video\.csv: line 3: 'l1' .* not a number", absent=("page/*.md",)),
    Fault("skip-bad-rows-warns", render("--skip-bad-rows", value="abc"), 1, r"^error: .*the leaderboard has no rows"),
    Fault("field-over-128-kib", huge_details, 0, "", after=lambda r: (r / "page" / "leaderboard.html").is_file() or pytest.fail("no page")),
    Fault("model-name-with-pipe-newline-html", render(model="a|b\n<b>x"), 0, "", after=markdown_has_one_row_of_four_cells),
    Fault("model-name-mathtext", render_with_plots(r"$\notacommand{x}$"), 0, "", after=plotted),
    Fault("model-name-dollars", render_with_plots("cost $5 and $6"), 0, "", after=plotted),
    Fault("render-out-is-a-file", lambda r: ["leaderboard", "render", board(r), "--out", board(r)], 1, r"^error: .*leaderboard\.csv: exists and is not a folder",
          unchanged=("leaderboard.csv",)),
    Fault("render-missing-board", lambda r: ["leaderboard", "render", r / "nope.csv", "--out", r / "page"], 1, r"^error: .*nope\.csv: no such leaderboard file"),
    Fault("render-not-a-leaderboard", lambda r: (r.joinpath("x.csv").write_text("a,b\n1,2\n"), ["leaderboard", "render", r / "x.csv", "--out", r / "p"])[1], 1,
          r"^error: .*x\.csv: not a vhq leaderboard \(no column model"),
    Fault("render-board-with-bom", lambda r: (r.joinpath("bom.csv").write_bytes(b"\xef\xbb\xbf" + board(r).read_bytes()),
                                              ["leaderboard", "render", r / "bom.csv", "--out", r / "page", "--no-plots", "--resamples", "100"])[1], 0, ""),
    Fault("render-board-not-utf8", lambda r: (r.joinpath("bin.csv").write_bytes(b"model,metric\n\xff\xfe\n"), ["leaderboard", "render", r / "bin.csv", "--out", r / "p"])[1], 1,
          r"^error: .*bin\.csv: not UTF-8"),
]
if UNWRITABLE is not None:
    CASES.append(Fault("render-out-unwritable", lambda r: ["leaderboard", "render", board(r), "--out", UNWRITABLE / "vhq-page"], 1, r"^error: .*vhq-page: cannot write in "))


@pytest.mark.parametrize("case", CASES, ids=str)
def test_leaderboard_fault(case, fault):
    fault(case)


def test_a_file_with_a_malformed_row_is_never_rewritten(tmp_path):
    path = with_extra_field(tmp_path)
    before = path.read_bytes()
    with pytest.raises(Exception, match=r"line 2: 1 more field"):
        report.append_leaderboard(path, report.leaderboard_rows([{"metric": "l1", "value": 0.1}], model="beta", testset="t", fingerprint="f" * 64))
    assert path.read_bytes() == before
    assert list(csv.reader(path.open()))[1][-1] == "surplus"
