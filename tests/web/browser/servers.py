"""Real HTTPS servers for the browser tests: uvicorn in a thread, TLS from a trustme CA, and
the SPKI pins that make Chromium trust exactly these servers."""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import threading
import time
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization

STARTUP_TIMEOUT = 30.0


class ThreadedServer:
    """Serve an ASGI app over HTTPS on 127.0.0.1 (random port, known before start)."""

    def __init__(self, leaf_cert: Any) -> None:
        self._leaf = leaf_cert  # trustme.LeafCert
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._leaf.configure_cert(context)
        return context

    def start(self, app: Any) -> None:
        config = uvicorn.Config(
            app,
            http="h11",
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=1,
            ssl_context_factory=lambda _config, _default: self._ssl_context(),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        self._socket.close()


def served_certificate(host: str, port: int, ca_file: str) -> bytes:
    """The DER certificate a server presents, fetched over a connection that verifies it
    against ``ca_file`` (so we only ever pin a server its test CA vouches for)."""
    context = ssl.create_default_context(cafile=ca_file)
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def spki_pin(certificate: bytes) -> str:
    """Base64 SHA-256 of a certificate's public key (DER or PEM): Chromium's SPKI pin format."""
    if certificate.startswith(b"-----BEGIN"):
        cert = x509.load_pem_x509_certificate(certificate)
    else:
        cert = x509.load_der_x509_certificate(certificate)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")
