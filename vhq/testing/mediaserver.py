"""A small HTTP server on 127.0.0.1 that behaves like a video host, for tests and the demo.

It serves a folder with HTTP Range support (ffmpeg and yt-dlp seek with Range requests; Python's
``http.server`` ignores them), HLS playlists with the right content types, and scripted failures
per path (``server.fail("/videos/x/master.m3u8", 429)``) to reproduce removed videos and rate
limits. It binds to a free loopback port and stops with its context manager.
"""

from __future__ import annotations

import http.server
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".csv": "text/csv",
    ".json": "application/json",
}
RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - silence per-request logs
        pass

    def _resolve(self) -> Path | None:
        rel = unquote(urlparse(self.path).path).lstrip("/")
        p = (self.server.root / rel).resolve()
        if self.server.root not in p.parents and p != self.server.root:
            return None
        return p if p.is_file() else None

    def do_HEAD(self):
        self._serve(body=False)

    def do_GET(self):
        self._serve(body=True)

    def _send_error(self, code: int, body: bool) -> None:
        msg = http.HTTPStatus(code).phrase.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(msg)))
        if code == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        if body:
            self.wfile.write(msg)

    def _serve(self, body: bool) -> None:
        url_path = unquote(urlparse(self.path).path)
        self.server.requests.append((url_path, self.headers.get("Range")))
        for prefix, code in self.server.failures.items():
            if url_path.startswith(prefix):
                return self._send_error(code, body)
        p = self._resolve()
        if p is None:
            return self._send_error(404, body)
        size = p.stat().st_size
        start, end = 0, size - 1
        status = 200
        rng = self.headers.get("Range")
        if rng:
            m = RANGE.match(rng.strip())
            if not m or (m.group(1) == "" and m.group(2) == ""):
                return self._send_error(416, body)
            if m.group(1) == "":  # suffix range: the last N bytes
                start = max(0, size - int(m.group(2)))
            else:
                start = int(m.group(1))
                if m.group(2):
                    end = min(int(m.group(2)), size - 1)
            if start >= size or start > end:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        length = end - start + 1
        limit = self.server.truncate_after.get(url_path, (None, 0))[0]
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPES.get(p.suffix.lower(), "application/octet-stream"))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if not body:
            return
        with open(p, "rb") as f:
            f.seek(start)
            remaining = length if limit is None else min(length, max(0, limit - start))
            while remaining > 0:
                chunk = f.read(min(1 << 16, remaining))
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
                remaining -= len(chunk)
        if limit is not None and length > max(0, limit - start):
            # Simulate a dropped connection: the client sees fewer bytes than announced.
            nbytes, times = self.server.truncate_after.get(url_path, (None, 0))
            if times <= 1:
                self.server.truncate_after.pop(url_path, None)
            else:
                self.server.truncate_after[url_path] = (nbytes, times - 1)
            self.close_connection = True


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        import sys

        # Clients (ffmpeg, yt-dlp) routinely close connections early after a Range read.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)
    root: Path
    failures: dict[str, int]
    truncate_after: dict[str, tuple[int, int]]
    requests: list[tuple[str, str | None]]


class MediaServer:
    """``with MediaServer(folder) as srv: srv.url("videos/a/master.m3u8")``."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "MediaServer":
        srv = _Server(("127.0.0.1", 0), _Handler)
        srv.root = self.root
        srv.failures = {}
        srv.truncate_after = {}
        srv.requests = []
        self._server = srv
        self._thread = threading.Thread(target=srv.serve_forever, name="vhq-media-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "MediaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, rel: str) -> str:
        return f"{self.base_url}/{rel.lstrip('/')}"

    def fail(self, path_prefix: str, code: int) -> None:
        """Answer every request under ``path_prefix`` with HTTP ``code`` (404 removed, 429 rate limit…)."""
        self._server.failures["/" + path_prefix.lstrip("/")] = code

    def clear_failures(self) -> None:
        self._server.failures.clear()

    def drop_connection_after(self, path: str, nbytes: int, times: int = 1) -> None:
        """The next ``times`` responses for ``path`` stop after byte ``nbytes`` of the file (an interrupted download)."""
        self._server.truncate_after["/" + path.lstrip("/")] = (nbytes, times)

    @property
    def requests(self) -> list[tuple[str, str | None]]:
        """Every request so far as (path, Range header or None)."""
        return self._server.requests
