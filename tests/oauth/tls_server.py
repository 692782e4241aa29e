"""A tiny HTTPS token endpoint on 127.0.0.1 with a certificate from a local test CA (trustme)."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme

TOKEN_JSON = {
    "access_token": "tls.access.token",
    "token_type": "Bearer",
    "expires_in": 3600,
    "refresh_token": "tls-refresh",
    "scope": "marketplace offline_access",
}


class _TokenServer(ThreadingHTTPServer):
    #: Set to make every request wait (unanswered) until ``release`` is set.
    hang = False
    release: threading.Event
    received: int = 0


class _TokenHandler(BaseHTTPRequestHandler):
    server: _TokenServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.server.received += 1
        if self.server.hang:
            self.server.release.wait()
            return
        body = json.dumps(TOKEN_JSON).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args  # keep test output quiet


@contextmanager
def https_token_server(ca: trustme.CA) -> Iterator[str]:
    """Serve until the block ends; yields the base URL ``https://localhost:<port>``."""
    with _serving(ca, hang=False) as server:
        yield f"https://localhost:{server.server_address[1]}"


@contextmanager
def https_silent_server(ca: trustme.CA) -> Iterator[tuple[str, _TokenServer]]:
    """Completes TLS and reads each request, then never answers (until the block ends)."""
    with _serving(ca, hang=True) as server:
        yield f"https://localhost:{server.server_address[1]}", server


@contextmanager
def _serving(ca: trustme.CA, *, hang: bool) -> Iterator[_TokenServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server = _TokenServer(("127.0.0.1", 0), _TokenHandler)
    server.hang, server.release = hang, threading.Event()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()
