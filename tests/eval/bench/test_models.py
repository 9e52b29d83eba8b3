"""Model adapters: an external command per clip (quoting, failures) and a Python entry point."""

from __future__ import annotations

import shlex
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from vhq.io import files, video
from vhq.testing.split_folder import make_split

COPY_DRIVING = textwrap.dedent("""
    import sys
    from vhq.io import video
    source, driving, out, mode = sys.argv[1:5]
    assert mode == "absolute", mode
    assert video.read_image(source).shape == (64, 64, 3)
    video.write_video(out, video.iter_frames(driving), 25.0, crf=0, pix_fmt="rgb24", codec="libx264rgb")
""")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_split(tmp_path_factory.mktemp("data"))


def script(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(text)
    return p


@pytest.mark.slow
def test_command_model_copies_driving_and_scores_zero(cli, data, tmp_path):
    # spaces in the script path and '#' in the clip ids: arguments are passed as a list, no shell
    s = script(tmp_path / "my model", "copy driving.py", COPY_DRIVING)
    template = f"{shlex.quote(sys.executable)} {shlex.quote(str(s))} {{source}} {{driving}} {{out}} {{mode}}"
    out = tmp_path / "bench"
    code, stdout, err = cli("bench", "reconstruct", "--model", "cmd", "--command", template, "--name", "copier",
                            "--data", data, "--out", out, "--metrics", "l1")
    assert code == 0, err
    row = files.read_csv(out / "leaderboard.csv")[0]
    assert row["model"] == "copier" and float(row["value"]) == 0.0
    assert '"command"' in row["details"] and "copy driving.py" in row["details"]
    # a changed command is a different model: its predictions are redone, the same one's are reused
    code, stdout, _ = cli("bench", "reconstruct", "--model", "cmd", "--command", template, "--name", "copier", "--data", data, "--out", out, "--metrics", "l1")
    assert "0 predicted now, 3 reused" in stdout
    code, stdout, _ = cli("bench", "reconstruct", "--model", "cmd", "--command", template + " --x", "--name", "copier", "--data", data, "--out", out, "--metrics", "l1")
    assert code == 0 and "3 predicted now, 0 reused" in stdout


def test_broken_command_is_a_clear_one_line_error(cli, data, tmp_path):
    s = script(tmp_path, "broken.py", "import sys\nprint('loading weights', file=sys.stderr)\nprint('RuntimeError: CUDA out of memory', file=sys.stderr)\nsys.exit(3)\n")
    out = tmp_path / "bench"
    code, stdout, err = cli("bench", "reconstruct", "--model", "cmd", "--command", f"{sys.executable} {s} {{source}} {{driving}} {{out}}",
                            "--data", data, "--out", out, "--metrics", "l1")
    assert code == 1
    first = err.splitlines()[0]
    assert first.startswith("error: clip id001#vid0000#000000#000006: model command exited with code 3: ")
    assert "loading weights | RuntimeError: CUDA out of memory" in first
    assert err.splitlines()[1].startswith("hint: command: ") and "broken.py" in err
    assert "Traceback" not in err
    assert not list((out / "preds" / "cmd").iterdir())  # nothing half-written
    row = files.read_csv(out / "runs" / "cmd" / "status.csv")[0]
    assert row["status"] == "failed" and "exited with code 3" in row["reason"]


@pytest.mark.parametrize("body, message", [
    ("import sys; sys.exit(0)", "wrote no out.mp4"),
    ("", "not found"),
])
def test_command_without_output_or_program(cli, data, tmp_path, body, message):
    if body:
        s = script(tmp_path, "noop.py", body)
        template = f"{sys.executable} {s} {{source}} {{driving}} {{out}}"
    else:
        template = "/nonexistent/model-binary {source} {driving} {out}"
    code, _, err = cli("bench", "reconstruct", "--model", "cmd", "--command", template, "--data", data, "--out", tmp_path / "b", "--metrics", "l1")
    assert code == 1 and message in err.splitlines()[0] and "clip id001#" in err


def test_command_template_needs_placeholders(cli, data, tmp_path):
    code, _, err = cli("bench", "reconstruct", "--model", "cmd", "--command", "mymodel {source} {out}", "--data", data, "--out", tmp_path / "b")
    assert code == 1 and "lacks {driving}" in err


ENTRY_POINT = textwrap.dedent("""
    import torch
    CALLS = []

    def half_grey(source, driving, mode):
        CALLS.append(mode)
        for batch in driving:
            yield torch.full(batch.shape, 0.5004, dtype=torch.float32)  # floats in [0, 1]: clamped, rounded

    def too_short(source, driving, mode):
        return torch.stack([source] * 2)

    def crashes(source, driving, mode):
        raise ValueError("shape mismatch in my model")
""")


def test_python_entry_point(cli, data, tmp_path, monkeypatch):
    script(tmp_path / "pkg", "my_method.py", ENTRY_POINT)
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    out = tmp_path / "bench"
    code, stdout, err = cli("bench", "reconstruct", "--model", "my_method:half_grey", "--data", data, "--out", out, "--metrics", "l1")
    assert code == 0, err
    assert "half_grey: reconstruct, 3 predicted now" in stdout
    pred = video.read_frames(next(iter(video.list_videos(out / "preds" / "half_grey").values())))
    assert pred.shape == (6, 64, 64, 3) and bool((pred == 128).all())  # round(0.5004 * 255) = 128
    import my_method

    assert my_method.CALLS == ["absolute"] * 3
    row = files.read_csv(out / "leaderboard.csv")[0]
    assert '"entry_point": "my_method:half_grey"' in row["details"]

    code, _, err = cli("bench", "reconstruct", "--model", "my_method:too_short", "--data", data, "--out", out, "--metrics", "l1")
    assert code == 1 and "produced 2 frame(s) for 6 driving frames" in err and "clip id001#" in err
    code, _, err = cli("bench", "reconstruct", "--model", "my_method:crashes", "--data", data, "--out", out, "--metrics", "l1")
    assert code == 1 and "the model raised ValueError: shape mismatch in my model" in err and "Traceback" not in err
    code, _, err = cli("bench", "reconstruct", "--model", "my_method:absent", "--data", data, "--out", out)
    assert code == 1 and "has no attribute" in err


def test_to_uint8_rounds_and_clamps():
    from eval.bench.models import to_uint8

    x = torch.tensor([-0.2, 0.0, 0.5, 1.0, 1.7]).reshape(1, 1, 5, 1).expand(1, 1, 5, 3)
    assert to_uint8(x, "t")[0, 0, :, 0].tolist() == [0, 0, 128, 255, 255]
    with pytest.raises(Exception, match="NaN"):
        to_uint8(torch.full((1, 2, 2, 3), float("nan")), "t")


def test_liax_reconstruct_rows_and_default_weights(cli, data, tmp_path):
    import json

    from lia.x.generator import LiaXGenerator

    torch.manual_seed(0)
    ckpt = tmp_path / "lia-x.pt"  # the released file's name and format (a bare state_dict), a tiny random model
    torch.save(LiaXGenerator(size=32, scale=0.5, style_dim=64, motion_dim=40).state_dict(), ckpt)
    out = tmp_path / "bench"
    code, _, err = cli("bench", "reconstruct", "--model", "liax", "--data", data, "--out", out, "--metrics", "l1", "--device", "cpu")
    assert code == 1 and "weight 'lia_x'" in err and "vhq weights import lia_x" in err and "Traceback" not in err
    assert not (out / "preds").exists()
    code, _, err = cli("weights", "import", "lia_x", ckpt)
    assert code == 0, err
    code, stdout, err = cli("bench", "reconstruct", "--model", "liax", "--data", data, "--out", out, "--metrics", "l1", "--device", "cpu")
    assert code == 0, err
    assert "lia_x: CC BY-NC 4.0" in err
    assert "lia-x: reconstruct, 3 predicted now" in stdout
    assert video.probe(next(iter(video.list_videos(out / "preds" / "lia-x").values()))).width == 32  # the model's size
    row = files.read_csv(out / "leaderboard.csv")[0]
    assert row["model"] == "lia-x" and 0 < float(row["value"]) < 1
    model = json.loads(row["details"])["bench"]["model"]
    assert model["kind"] == "liax" and model["config"] == {"size": 32, "scale": 0.5, "style_dim": 64, "motion_dim": 40}
    assert model["weight"] == "lia_x" and model["ckpt_sha256"] == files.sha256_file(ckpt)
