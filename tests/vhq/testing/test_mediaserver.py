import urllib.error
import urllib.request

import pytest

from vhq.io import video
from vhq.testing import synthetic
from vhq.testing.mediaserver import MediaServer


def _get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, dict(r.headers), r.read()


def test_range_requests_and_failures(tmp_path):
    data = bytes(range(256)) * 40
    (tmp_path / "f.bin").write_bytes(data)
    with MediaServer(tmp_path) as srv:
        assert _get(srv.url("f.bin"))[2] == data
        status, headers, body = _get(srv.url("f.bin"), {"Range": "bytes=100-199"})
        assert status == 206 and body == data[100:200] and headers["Content-Range"] == f"bytes 100-199/{len(data)}"
        assert _get(srv.url("f.bin"), {"Range": "bytes=-10"})[2] == data[-10:]
        srv.fail("f.bin", 429)
        with pytest.raises(urllib.error.HTTPError) as ei:
            _get(srv.url("f.bin"))
        assert ei.value.code == 429
        with pytest.raises(urllib.error.HTTPError) as ei:
            _get(srv.url("nope.bin"))
        assert ei.value.code == 404


@pytest.mark.slow
def _read_some(url):
    import http.client

    try:
        return _get(url)[2]
    except http.client.IncompleteRead as e:
        return e.partial


def test_dropped_connections_repeat_the_given_number_of_times(tmp_path):
    data = bytes(range(256)) * 40
    (tmp_path / "f.bin").write_bytes(data)
    with MediaServer(tmp_path) as srv:
        srv.drop_connection_after("f.bin", 1000, times=2)
        assert _read_some(srv.url("f.bin")) == data[:1000]
        assert _read_some(srv.url("f.bin")) == data[:1000]
        assert _read_some(srv.url("f.bin")) == data  # the connection holds again


def test_hls_ladder_is_seen_by_yt_dlp_with_its_resolutions(tmp_path):
    import yt_dlp

    spec = synthetic.SyntheticVideo(width=640, height=360, frames=50)
    synthetic.write_hls_ladder(tmp_path / "v", spec, heights=(1080, 720))
    with MediaServer(tmp_path) as srv:
        opts = {"quiet": True, "no_warnings": True, "force_generic_extractor": True, "socket_timeout": 10, "proxy": ""}
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(srv.url("v/master.m3u8"), download=False)
        heights = sorted(f.get("height") for f in info["formats"])
        assert heights == [720, 1080]
        assert (info["width"], info["height"]) == (1920, 1080)
        segments = sorted(p.name for p in (tmp_path / "v").glob("1080p_*.ts"))
        assert video.probe(tmp_path / "v" / segments[0]).height == 1080
