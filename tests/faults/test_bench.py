"""Fault cases of `vhq bench`: a model command cannot touch the ground truth it is scored against."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from vhq.io import files
from vhq.testing.faults import Fault
from vhq.testing.split_folder import make_split

# Writes another clip over {driving} and also as {out}: against the dataset's own file this made
# the ground truth equal the prediction (L1 0).
OVERWRITER = """import shutil, sys
other, driving, out = sys.argv[1:4]
shutil.copyfile(other, driving)
shutil.copyfile(other, out)
"""


def overwrite_driving(root: Path):
    data = make_split(root / "data", persons=("id001", "id002"))
    clips = sorted((data / "clips").glob("*.mp4"))
    other = root / "other.mp4"
    other.write_bytes(clips[1].read_bytes())
    (root / "overwrite.py").write_text(OVERWRITER)
    template = f"{shlex.quote(sys.executable)} {shlex.quote(str(root / 'overwrite.py'))} {shlex.quote(str(other))} {{driving}} {{out}} {{source}}"
    return ["bench", "reconstruct", "--model", "cmd", "--command", template, "--data", data, "--out", root / "b", "--metrics", "l1", "--limit", "1"]


def _scored_against_the_real_clip(root: Path) -> None:
    row = files.read_csv(root / "b" / "leaderboard.csv")[0]
    assert float(row["value"]) > 0.01, row  # clip 0 scored against clip 1's frames, not against itself


CASES = [
    Fault("cmd-model-writes-to-driving", overwrite_driving, 0, "", unchanged=("data/clips",), after=_scored_against_the_real_clip),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bench_fault(case, fault):
    fault(case)


def bench(out_of=lambda r: r / "b", *extra):
    def build(root: Path):
        data = make_split(root / "data", persons=("id001",))
        return ["bench", "reconstruct", "--model", "static", "--data", data, "--out", out_of(root), "--metrics", "l1", *extra]
    return build


def _file(root: Path) -> Path:
    (root / "taken").write_bytes(b"the user's file")
    return root / "taken"


def _bad_board(root: Path) -> Path:
    (root / "board.csv").write_text("model,metric,protocol,params,testset_fingerprint,value\nm,l1,lia,{},f,zero\n")
    return root / "board.csv"


MORE = [
    Fault("bench-out-is-a-file", bench(_file), 1, r"^error: .*taken: exists and is not a folder", unchanged=("taken",)),
    Fault("bench-leaderboard-malformed", lambda r: bench(lambda q: q / "b", "--leaderboard", _bad_board(r))(r), 1,
          r"^error: .*board\.csv: line 2: column value: 'zero' is not a number", unchanged=("board.csv",), absent=("b/preds",)),
    Fault("bench-unknown-model", lambda r: ["bench", "reconstruct", "--model", "nope:", "--data", make_split(r / "data", persons=("id001",)), "--out", r / "b"],
          1, r"^error: "),
]


@pytest.mark.parametrize("case", MORE, ids=str)
def test_bench_output_fault(case, fault):
    fault(case)
