"""Fault cases of `vhq weights`: the user's files are never moved, deleted or mistaken for another entry's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vhq.testing.faults import Fault


def _cache() -> Path:
    return Path(os.environ["VHQ_CACHE"]) / "weights"


def import_from_inside_cache(root: Path):
    (_cache()).mkdir(parents=True, exist_ok=True)
    (_cache() / "my-download.pt").write_bytes(b"facenet weights the user downloaded")
    return ["weights", "import", "facenet_vggface2", _cache() / "my-download.pt"]


def import_another_entrys_file(root: Path):
    _cache().mkdir(parents=True, exist_ok=True)
    (_cache() / "20180402-114759-vggface2.pt").write_bytes(b"facenet")
    (_cache() / "20180402-114759-vggface2.pt.json").write_text('{"name": "facenet_vggface2", "sha256": "x", "state": "recorded"}')
    return ["weights", "import", "dlib68", _cache() / "20180402-114759-vggface2.pt"]


def import_a_sidecar(root: Path):
    _cache().mkdir(parents=True, exist_ok=True)
    (_cache() / "20180402-114759-vggface2.pt").write_bytes(b"facenet")
    (_cache() / "20180402-114759-vggface2.pt.json").write_text('{"name": "facenet_vggface2"}')
    return ["weights", "import", "facenet_vggface2", _cache() / "20180402-114759-vggface2.pt.json"]


def import_wrong_hash(root: Path):
    (root / "vgg.pth").write_bytes(b"not vgg19")
    return ["weights", "import", "vgg19", root / "vgg.pth"]


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


def evil_pickle(root: Path):
    import torch

    torch.save({"w": _Evil()}, root / "evil.pt")
    return ["weights", "import", "i3d_torchscript", root / "evil.pt", "--no-verify"]


def garbage_file(root: Path):
    (root / "junk.pt").write_bytes(b"PK\x03\x04 not really a zip")
    return ["weights", "import", "i3d_torchscript", root / "junk.pt", "--no-verify"]


CASES = [
    Fault("import-a-pickle-with-code", evil_pickle, 1, r"^error: .*evil\.pt: refused: the file contains code \(unpickling it would call (posix|os)\.system\)",
          unchanged=("evil.pt",), absent=("pwned.txt", "$VHQ_CACHE/weights/i3d*.pt")),
    Fault("import-a-corrupt-file", garbage_file, 1, r"^error: .*junk\.pt: (not a readable PyTorch weight file|neither)", absent=("$VHQ_CACHE/weights/i3d*.pt",)),
    Fault("import-a-file-inside-the-cache-copies-it", import_from_inside_cache, 0, "",
          unchanged=("$VHQ_CACHE/weights/my-download.pt",)),
    Fault("import-another-entrys-cached-file", import_another_entrys_file, 1, r"^error: .*20180402-114759-vggface2\.pt: is the cached file of 'facenet_vggface2'",
          unchanged=("$VHQ_CACHE/weights/20180402-114759-vggface2.pt", "$VHQ_CACHE/weights/20180402-114759-vggface2.pt.json"),
          absent=("$VHQ_CACHE/weights/shape_predictor*",)),
    Fault("import-a-sidecar", import_a_sidecar, 1, r"^error: .*\.pt\.json: is the cache's record of 'facenet_vggface2'",
          unchanged=("$VHQ_CACHE/weights/20180402-114759-vggface2.pt", "$VHQ_CACHE/weights/20180402-114759-vggface2.pt.json")),
    Fault("import-wrong-hash", import_wrong_hash, 1, r"^error: .*vgg\.pth: sha256 .* does not match 'vgg19'", unchanged=("vgg.pth",)),
    Fault("import-missing-file", lambda root: ["weights", "import", "vgg19", root / "nope.pth"], 1, r"^error: .*nope\.pth: no such file"),
    Fault("import-unknown-name", lambda root: ["weights", "import", "vgg20", root], 1, r"^error: .*vgg20"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_weights_fault(case, fault):
    fault(case)


def test_a_fetch_over_the_file_size_limit_fails_in_one_line_and_resumes(tmp_path, cli, cli_env, _isolated_cache):
    from vhq.testing import faults
    from vhq.testing.mediaserver import MediaServer

    www = tmp_path / "www" / "models"
    www.mkdir(parents=True)
    payload = os.urandom(3 << 20)
    (www / "20180402-114759-vggface2.pt").write_bytes(payload)
    root = tmp_path / "case"
    root.mkdir()
    cached = _isolated_cache / "weights" / "20180402-114759-vggface2.pt"

    def resumed(_root: Path) -> None:
        code, out, err = cli("weights", "fetch", "facenet_vggface2")
        assert code == 0, err
        assert cached.read_bytes() == payload

    with MediaServer(tmp_path / "www") as srv:
        case = Fault("fetch-over-the-file-size-limit", lambda r: ["weights", "fetch", "facenet_vggface2"], 1,
                     r"^error: .*20180402-114759-vggface2\.pt.*: cannot write the download after \d+ bytes \(File too large\)", file_size_limit=1 << 20,
                     absent=("$VHQ_CACHE/weights/20180402-114759-vggface2.pt",), after=resumed)
        os.environ["VHQ_WEIGHTS_MIRROR"] = srv.url("models")
        try:
            faults.check(case, root, lambda argv: cli(*argv), env=cli_env(_isolated_cache, VHQ_WEIGHTS_MIRROR=srv.url("models")))
        finally:
            os.environ.pop("VHQ_WEIGHTS_MIRROR", None)
