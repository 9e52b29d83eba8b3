"""Fault cases of `vhq eval`: outputs and the leaderboard are checked before any scoring, usage errors exit 2,
a full disk is one line and a re-run completes, a wrong-shaped cache entry is recomputed."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from vhq.io import cache, files
from vhq.testing.faults import Fault, another_writer, unwritable_folder
from vhq.testing.synthetic import write_clips

UNWRITABLE = unwritable_folder()


def clips(root: Path) -> tuple[Path, Path]:
    write_clips(root / "gt", count=2, frames=4, side=64)
    write_clips(root / "pred", count=2, frames=4, side=64)
    return root / "pred", root / "gt"


def evaluate(*extra, out=lambda r: r / "out"):
    def build(root: Path):
        pred, gt = clips(root)
        return ["eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--out", out(root), *extra]
    return build


def a_file(root: Path, name: str = "taken") -> Path:
    (root / name).write_bytes(b"the user's file")
    return root / name


def malformed_board(root: Path) -> Path:
    (root / "board.csv").write_text("model,metric,protocol,params,testset_fingerprint,value\nm,l1,lia,{},f,0.1,surplus\n")
    return root / "board.csv"


def _rerun_completes(root: Path) -> None:
    r = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "eval", "--pred", root / "pred", "--gt", root / "gt", "--metrics", "l1",
                        "--out", root / "out"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert files.read_csv(root / "out" / "summary.csv")[0]["metric"] == "l1"


CASES = [
    Fault("out-is-a-file", evaluate(out=a_file), 1, r"^error: .*taken: exists and is not a folder", unchanged=("taken",)),
    Fault("out-under-a-file", evaluate(out=lambda r: a_file(r) / "out"), 1, r"^error: .*taken/out: .*taken is a file, not a folder", unchanged=("taken",)),
    Fault("leaderboard-is-a-folder", lambda r: evaluate("--leaderboard", r / "gt")(r), 1, r"^error: .*gt: is a folder; this output is a file", absent=("out",)),
    Fault("leaderboard-under-a-file", lambda r: evaluate("--leaderboard", a_file(r) / "b.csv")(r), 1, r"^error: .*taken/b\.csv: .*is a file, not a folder",
          absent=("out",), unchanged=("taken",)),
    Fault("leaderboard-malformed-refused-before-scoring", lambda r: evaluate("--leaderboard", malformed_board(r))(r), 1,
          r"^error: .*board\.csv: line 2: 1 more field\(s\) than the header", absent=("out",), unchanged=("board.csv",)),
    Fault("metrics-only-commas", evaluate("--metrics", ",,"), 2, r"^error: --metrics ',,' names no metric", absent=("out",)),
    Fault("metrics-unknown", evaluate("--metrics", "l1,nope"), 2, r"^error: unknown metric\(s\): nope", absent=("out",)),
    Fault("max-videos-zero", evaluate("--max-videos", "0"), 2, r"^Usage: vhq eval", absent=("out",)),
    Fault("batch-size-zero", evaluate("--batch-size", "0"), 2, r"^Usage: vhq eval", absent=("out",)),
    Fault("gt-missing", lambda r: ["eval", "--pred", clips(r)[0], "--gt", r / "nope", "--metrics", "l1", "--out", r / "out"], 1, r"^error: .*nope"),
    Fault("pred-empty-folder", lambda r: (clips(r), (r / "empty").mkdir(), ["eval", "--pred", r / "empty", "--gt", r / "gt", "--metrics", "l1", "--out", r / "out"])[2],
          1, r"^error: .*empty"),
    Fault("out-over-the-file-size-limit", evaluate(), 1, r"^error: .*out/\S+: cannot write \(File too large\)", file_size_limit=700,
          absent=("out/summary.csv",), after=_rerun_completes),
]
if UNWRITABLE is not None:
    CASES += [
        Fault("out-unwritable", evaluate(out=lambda r: UNWRITABLE / "vhq-eval"), 1, r"^error: .*vhq-eval: cannot write in "),
        Fault("leaderboard-unwritable", lambda r: evaluate("--leaderboard", UNWRITABLE / "board.csv")(r), 1, r"^error: .*board\.csv: cannot write in ",
              absent=("out",)),
    ]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_eval_fault(case, fault):
    fault(case)


def test_a_second_eval_into_the_same_folder_is_refused_naming_the_first(cli, tmp_path, cli_env, _isolated_cache):
    pred, gt = clips(tmp_path)
    out = tmp_path / "out"
    with another_writer(out, folder=True, env=cli_env(_isolated_cache)) as pid:
        code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--out", out)
        assert code == 1 and err.splitlines()[0].startswith(f"error: {out}: this evaluation folder is being written by pid {pid} on "), err
        assert not (out / "summary.csv").exists()
    code, _, err = cli("eval", "--pred", pred, "--gt", gt, "--metrics", "l1", "--out", out)
    assert code == 0, err


@pytest.mark.parametrize("bad", [torch.zeros(3, 68, 2), {"points": torch.zeros(4, 68, 2), "found": torch.zeros(3)}, {"points": "x"}, [1, 2]])
def test_a_cached_gt_entry_of_the_wrong_shape_is_recomputed(tmp_path, bad):
    from eval.paired import LandmarkScorer

    scorer = LandmarkScorer.__new__(LandmarkScorer)
    scorer.opts = types.SimpleNamespace(size=None, device="cpu")
    scorer.net = types.SimpleNamespace(backbone_id="fake", provenance=lambda: {"weight_sha256": "0"})
    (tmp_path / "gt.mp4").write_bytes(b"gt")
    pair = types.SimpleNamespace(gt=tmp_path / "gt.mp4", gt_start=0, frames=4)
    store = cache.ContentCache("landmarks", root=tmp_path / "cache")
    scorer.start(pair, store)
    store.put(scorer.key, bad)
    scorer.start(pair, store)
    assert scorer.gt is None  # recomputed, never trusted
    good = {"points": torch.zeros(4, 68, 2, dtype=torch.float64), "found": torch.zeros(4, dtype=torch.bool)}
    store.put(scorer.key, good)
    scorer.start(pair, store)
    assert scorer.gt is not None and scorer.gt["points"].shape == (4, 68, 2)
