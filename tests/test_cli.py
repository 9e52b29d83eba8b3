import pytest

from vhq import __version__


def test_version_and_help(cli):
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"vhq {__version__}"
    code, out, _ = cli("--help")
    assert code == 0
    for name in ("download", "crop", "split", "manifest", "stats", "eval", "leaderboard", "weights", "train-lia", "animate", "lia", "bench", "demo"):
        assert name in out


def test_known_failure_exits_1_with_one_line(cli, tmp_path):
    code, out, err = cli("eval", "--pred", tmp_path / "nope", "--gt", tmp_path, "--metrics", "l1")
    assert code == 1 and out == ""
    assert err.splitlines()[0].startswith("error: ") and "nope" in err.splitlines()[0]
    assert "Traceback" not in err


def test_usage_error_exits_2(cli):
    code, _, err = cli("weights", "import", "vgg19")  # missing FILE argument
    assert code == 2 and "Missing argument" in err
    assert cli("--no-such-option")[0] == 2


def test_weights_import_list_verify(cli, tmp_path):
    f = tmp_path / "vgg19-random-init.pth"
    f.write_bytes(b"random-init stand-in")
    code, _, err = cli("weights", "import", "vgg19", f)
    assert code == 1 and "does not match" in err and "--no-verify" in err
    code, out, _ = cli("weights", "import", "vgg19", f, "--no-verify")
    assert code == 0 and out.startswith("vgg19\tunverified\t")
    code, out, _ = cli("weights", "list")
    line = next(line for line in out.splitlines() if line.startswith("vgg19"))
    assert "yes" in line and "unverified" in line
    code, out, _ = cli("weights", "verify", "vgg19")
    assert code == 0 and "unverified" in out
    code, _, err = cli("weights", "verify", "alexnet")
    assert code == 1 and "not in the cache" in err


def test_unknown_weight_and_offline_fetch(cli, monkeypatch):
    code, _, err = cli("weights", "fetch", "nonexistent")
    assert code == 1 and "unknown weight" in err
    monkeypatch.setenv("VHQ_OFFLINE", "1")
    code, _, err = cli("weights", "fetch", "alexnet")
    assert code == 1 and "vhq weights import alexnet" in err


def test_debug_shows_the_exception(cli, monkeypatch, tmp_path):
    code, _, err = cli("leaderboard", "render", tmp_path / "absent.csv", "--out", tmp_path / "r")
    assert code == 1 and err.startswith("error: ") and "Traceback" not in err
    monkeypatch.setenv("VHQ_DEBUG", "1")
    from vhq.errors import BadInput

    with pytest.raises(BadInput, match="no such leaderboard file"):
        cli("leaderboard", "render", tmp_path / "absent.csv", "--out", tmp_path / "r")
