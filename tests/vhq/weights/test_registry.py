import dataclasses
import hashlib
import json
import os

import pytest

from vhq import weights
from vhq.errors import BadInput, MissingWeights, NetworkError
from vhq.io import files
from vhq.testing.mediaserver import MediaServer

PAYLOAD = os.urandom(300_000)


@pytest.fixture
def tiny_entry():
    """A registry entry for a small file this test serves itself (added for the test, then removed)."""
    e = weights.register(weights.WeightEntry(
        name="tiny_test_net",
        filename="tiny-net.bin",
        description="test payload",
        licence="test",
        urls=("http://127.0.0.1:9/unused",),
        sha256=hashlib.sha256(PAYLOAD).hexdigest(),
    ))
    yield e
    weights.REGISTRY.pop(e.name)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    root = tmp_path / "www"
    root.mkdir()
    with MediaServer(root) as srv:
        monkeypatch.setenv("VHQ_WEIGHTS_MIRROR", srv.url("models"))
        (root / "models").mkdir()
        yield root / "models", srv


def test_fetch_verifies_and_caches(tiny_entry, mirror):
    folder, srv = mirror
    (folder / "tiny-net.bin").write_bytes(PAYLOAD)
    st = weights.fetch("tiny_test_net")
    assert st.state == weights.VERIFIED and st.path.read_bytes() == PAYLOAD
    assert json.loads(st.path.with_name("tiny-net.bin.json").read_text())["sha256"] == tiny_entry.sha256
    n = len(srv.requests)
    assert weights.fetch("tiny_test_net").path == st.path and len(srv.requests) == n  # cached: no request
    assert weights.provenance("tiny_test_net")["weight_verified"] is True


def test_wrong_hash_is_refused_and_leaves_nothing(tiny_entry, mirror):
    folder, _ = mirror
    (folder / "tiny-net.bin").write_bytes(PAYLOAD[:-1] + b"x")
    with pytest.raises(BadInput, match="does not match"):
        weights.fetch("tiny_test_net")
    left = [p.name for p in weights.weights_dir().iterdir() if not p.name.endswith(".lock")]
    assert left == []
    assert not weights.status("tiny_test_net").present


def test_wrong_file_for_a_real_entry_is_refused(mirror):
    folder, _ = mirror
    (folder / "alexnet-owt-7be5be79.pth").write_bytes(b"not alexnet")
    with pytest.raises(BadInput, match="7be5be79"):
        weights.fetch("alexnet")
    assert not weights.status("alexnet").present


def test_interrupted_download_resumes(tiny_entry, mirror):
    folder, srv = mirror
    (folder / "tiny-net.bin").write_bytes(PAYLOAD)
    srv.drop_connection_after("models/tiny-net.bin", 100_000)
    with pytest.raises(NetworkError, match="re-run"):
        weights.fetch("tiny_test_net", timeout=5)
    partial = weights.weights_dir() / "tiny-net.bin.incomplete"
    assert partial.stat().st_size == 100_000
    assert not weights.status("tiny_test_net").present
    st = weights.fetch("tiny_test_net", timeout=5)
    assert st.path.read_bytes() == PAYLOAD and not partial.exists()
    assert srv.requests[-1] == ("/models/tiny-net.bin", "bytes=100000-")


def test_offline_error_names_file_hash_url_and_command(monkeypatch):
    monkeypatch.setenv("VHQ_OFFLINE", "1")
    with pytest.raises(MissingWeights) as ei:
        weights.fetch("vgg19")
    text = f"{ei.value.message} {ei.value.hint}"
    for part in ("vgg19-dcbb9e9d.pth", "dcbb9e9d", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", "vhq weights import vgg19"):
        assert part in text
    with pytest.raises(MissingWeights, match="vgg19-dcbb9e9d.pth"):
        weights.path("vgg19")


def test_import_only_entries_explain_where_to_get_the_file():
    with pytest.raises(MissingWeights) as ei:
        weights.fetch("resnext101_kinetics")
    assert "drive.google.com" in ei.value.hint and "vhq weights import resnext101_kinetics" in ei.value.hint


def test_import_verified_recorded_and_unverified(tmp_path, tiny_entry):
    good = tmp_path / "good.bin"
    good.write_bytes(PAYLOAD)
    assert weights.import_file("tiny_test_net", good).state == weights.VERIFIED
    bad = tmp_path / "random-init-vgg19.pth"
    bad.write_bytes(b"a random-init stand-in")
    with pytest.raises(BadInput, match="--no-verify"):
        weights.import_file("vgg19", bad)
    assert not weights.status("vgg19").present
    st = weights.import_file("vgg19", bad, no_verify=True)
    assert st.state == weights.UNVERIFIED and st.path.read_bytes() == bad.read_bytes()
    assert weights.provenance("vgg19") == {
        "weight": "vgg19", "weight_sha256": files.sha256_file(bad), "weight_verified": False, "weight_state": "unverified",
    }
    assert weights.import_file("facenet_vggface2", good).state == weights.RECORDED  # no published hash


def test_verify_detects_a_changed_file(tmp_path, tiny_entry):
    good = tmp_path / "good.bin"
    good.write_bytes(PAYLOAD)
    st = weights.import_file("tiny_test_net", good)
    assert weights.verify("tiny_test_net").state == weights.VERIFIED
    st.path.write_bytes(b"tampered")
    with pytest.raises(BadInput, match="changed"):
        weights.verify("tiny_test_net")


def test_packaged_weights_are_found_and_verified():
    for name in ("mtcnn", "lpips_alex_lin"):
        st = weights.status(name)
        assert st.present and st.state == weights.VERIFIED and st.sha256 == weights.entry(name).sha256


def test_every_metrics_network_is_registered():
    for name in ("alexnet", "lpips_alex_lin", "fan2d", "s3fd", "facenet_vggface2", "mtcnn", "i3d_torchscript",
                 "i3d_pretrained_400", "resnext101_kinetics", "vgg19"):
        e = weights.entry(name)
        assert e.licence and e.filename
        assert e.urls or e.import_only or e.extra.get("packaged")


def test_fetch_applies_the_import_converter(tiny_entry, mirror):
    folder, _ = mirror
    (folder / "tiny-net.bin").write_bytes(PAYLOAD)

    def convert(entry, src, dest):
        dest.write_bytes(b"converted:" + src.read_bytes()[:10])
        return True

    weights.register(dataclasses.replace(tiny_entry, converter=convert))
    st = weights.fetch("tiny_test_net")
    assert st.path.read_bytes() == b"converted:" + PAYLOAD[:10]
    assert st.state == weights.VERIFIED  # the original matched its published hash
    meta = json.loads(st.path.with_name("tiny-net.bin.json").read_text())
    assert meta["source_sha256"] == tiny_entry.sha256
    assert not (weights.weights_dir() / "tiny-net.bin.incomplete").exists()
