"""Receive the OAuth redirect on a loopback address, for ``cdconnect login`` (RFC 8252 §7.3).

A tiny HTTP server in a background thread waits for one request to the redirect path and hands
its target (path and query, which carry the code and state) to the caller. It never logs request
lines: they contain the authorization code.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from cdconnect.oauth.urls import is_loopback_host

RECEIVED_PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>cdconnect</title></head>
<body><h1>Central Dispatch answered</h1>
<p>cdconnect received the answer. You can close this tab and return to the terminal.</p>
</body></html>
"""


@dataclass(frozen=True, slots=True)
class LoopbackAddress:
    """Where a loopback redirect URI points: ``http://HOST:PORT/PATH``."""

    host: str
    port: int
    path: str


def loopback_address(redirect_uri: str) -> LoopbackAddress | None:
    """The address to listen on when ``redirect_uri`` is ``http://`` on a loopback host."""
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname is None or not is_loopback_host(parts.hostname):
        return None
    host = "127.0.0.1" if parts.hostname.lower() == "localhost" else parts.hostname
    return LoopbackAddress(host, parts.port or 80, parts.path or "/")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: LoopbackAddress, received: queue.Queue[str]) -> None:
        self.expected_path = address.path
        self.received = received
        super().__init__((address.host, address.port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        if urlsplit(self.path).path != self.server.expected_path:
            self._answer(404, b"not found\n", "text/plain")
            return
        self.server.received.put(self.path)
        self._answer(200, RECEIVED_PAGE, "text/html; charset=utf-8")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence: the default logs the request line, which holds the authorization code."""


class LoopbackReceiver:
    """Listen on ``address`` (from ``__enter__`` on) and wait for the redirect with ``wait``."""

    def __init__(self, address: LoopbackAddress) -> None:
        self.address = address
        self._received: queue.Queue[str] = queue.Queue()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Bind and serve in a background thread; ``OSError`` when the port is taken."""
        self._server = _Server(self.address, self._received)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="cdconnect-login-redirect",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    @property
    def port(self) -> int:
        """The bound port (useful when the address asked for port 0)."""
        assert self._server is not None, "use the receiver as a context manager"
        return int(self._server.server_address[1])

    def wait(self, timeout: float) -> str | None:
        """The first redirect's path and query, or None when none came within ``timeout``."""
        try:
            return self._received.get(timeout=timeout)
        except queue.Empty:
            return None
