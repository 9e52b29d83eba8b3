"""Verified, resumable downloads against servers on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time

import pytest

from vhq.errors import BadInput, NetworkError
from vhq.io import http as vhttp
from vhq.testing.mediaserver import MediaServer

PAYLOAD = os.urandom(250_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def server(tmp_path):
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "file.bin").write_bytes(PAYLOAD)
    with MediaServer(tmp_path / "www") as srv:
        yield srv


class _Plain(http.server.BaseHTTPRequestHandler):
    """Ignores Range (always the whole body), records the User-Agent, or stalls before answering."""

    seen: list = []
    stall = 0.0

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).seen.append((self.headers.get("User-Agent"), self.headers.get("Range")))
        time.sleep(type(self).stall)
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)


@pytest.fixture
def plain():
    _Plain.seen, _Plain.stall = [], 0.0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Plain)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/file.bin"
    srv.shutdown()
    srv.server_close()


def test_download_verifies_then_moves_into_place(server, tmp_path):
    dest = tmp_path / "out" / "file.bin"
    seen = []
    assert vhttp.download(server.url("file.bin"), dest, SHA, progress=lambda done, total: seen.append((done, total))) == SHA
    assert dest.read_bytes() == PAYLOAD and not vhttp.partial_path(dest).exists()
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))


def test_an_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    dest = tmp_path / "file.bin"
    server.drop_connection_after("file.bin", 100_000)
    with pytest.raises(NetworkError, match="connection closed after 100000 of 250000 bytes"):
        vhttp.download(server.url("file.bin"), dest, SHA, timeout=5)
    assert vhttp.partial_path(dest).stat().st_size == 100_000 and not dest.exists()
    assert vhttp.download(server.url("file.bin"), dest, SHA, timeout=5) == SHA
    assert dest.read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/file.bin", "bytes=100000-")


def test_a_file_that_does_not_verify_never_reaches_its_name(server, tmp_path):
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"an older copy")
    with pytest.raises(vhttp.Mismatch, match=f"sha256 {SHA} does not match the expected 0000"):
        vhttp.download(server.url("file.bin"), dest, "0" * 64)
    assert dest.read_bytes() == b"an older copy" and not vhttp.partial_path(dest).exists()
    # a partial file longer than the source (416 on resume) is hashed, refused and dropped
    vhttp.partial_path(dest).write_bytes(PAYLOAD + b"junk")
    with pytest.raises(vhttp.Mismatch):
        vhttp.download(server.url("file.bin"), dest, SHA)
    assert vhttp.download(server.url("file.bin"), dest, SHA) == SHA and dest.read_bytes() == PAYLOAD


def test_a_server_that_ignores_range_restarts_the_file(plain, tmp_path):
    dest = tmp_path / "file.bin"
    vhttp.partial_path(dest).write_bytes(b"x" * 1000)
    assert vhttp.download(plain, dest, SHA) == SHA and dest.read_bytes() == PAYLOAD
    assert _Plain.seen == [(vhttp.USER_AGENT, "bytes=1000-")]


def test_failures_name_the_url(server, plain, tmp_path, free_port):
    with pytest.raises(NetworkError, match=r"missing.bin: HTTP 404 Not Found"):
        vhttp.download(server.url("missing.bin"), tmp_path / "a")
    with pytest.raises(NetworkError, match="cannot download"):
        vhttp.download(f"http://127.0.0.1:{free_port()}/x", tmp_path / "b", timeout=5)
    _Plain.stall = 2.0
    with pytest.raises(NetworkError, match="timed out"):
        vhttp.download(plain, tmp_path / "c", timeout=0.3)
    with pytest.raises(BadInput, match="not a URL"):
        vhttp.download("ftp-like:nothing", tmp_path / "d")
    assert not any(p.name in ("a", "b", "c", "d") for p in tmp_path.iterdir())
