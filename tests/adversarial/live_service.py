"""The service under a real uvicorn server on loopback, in a background thread.

The options are the ones ``cdconnect.web.server.run_server`` uses (no logging config of uvicorn's
own, no access log, no server header, no proxy headers), so the records uvicorn emits are the
ones it emits in production. The socket is bound first: the callback URL must be known before
the settings (and so the app) exist.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

#: The name of the server's thread (log records carry it).
SERVICE_THREAD = "cdconnect-service"
_STARTUP_SECONDS = 20.0


def bind_loopback() -> socket.socket:
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def base_url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextmanager
def serving(app: FastAPI, sock: socket.socket) -> Iterator[None]:
    """Serve ``app`` on ``sock`` (lifespan included) until the block ends."""
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=SERVICE_THREAD, daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
