"""``SandboxServer``: the sandbox served over real HTTPS by uvicorn in a background thread."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import ssl
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import uvicorn

from cdconnect.sandbox.app import create_sandbox_app
from cdconnect.sandbox.config import (
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    ClientRegistration,
    SandboxConfig,
    default_config,
)
from cdconnect.sandbox.control import SandboxControl
from cdconnect.sandbox.signing import SigningKey
from cdconnect.sandbox.state import Clock, SandboxState
from cdconnect.sandbox.tls import TlsMaterial, create_tls_material

STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 15.0
_WAIT_STEP = 0.01


class SandboxServer:
    """A running HTTPS sandbox. Use as a context manager (or ``start()``/``stop()``).

    ``port=0`` picks a free port; the socket is bound before uvicorn starts, so ``.port`` and
    ``.issuer`` are known as soon as ``start()`` returns. ``ca_dir`` keeps the test CA there
    (reused on the next start); by default it lives in a private temporary directory.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = time.time,
        *,
        ca_dir: Path | None = None,
        signing_key: SigningKey | None = None,
    ) -> None:
        self._requested_config = config or default_config()
        self.host = host
        self._requested_port = port
        self._clock = clock
        self._ca_dir = ca_dir
        self._signing_key = signing_key
        self._tempdir: Path | None = None
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._tls: TlsMaterial | None = None
        self._control: SandboxControl | None = None
        self._state: SandboxState | None = None
        self.config = self._requested_config
        self.port = 0

    # --- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Bind, start uvicorn in a thread, and return once it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the sandbox server is already running")
        try:
            self._prepare()
            self._launch()
        except BaseException:
            self.stop()
            raise

    def _prepare(self) -> None:
        self._tempdir = Path(tempfile.mkdtemp(prefix="cdconnect-sandbox-"))  # created 0700
        ca_dir = self._ca_dir or self._tempdir
        ca_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._tls = create_tls_material(ca_dir, keep_ca=self._ca_dir is not None)
        self._socket = socket.create_server(
            (self.host, self._requested_port),
            family=socket.AF_INET6 if ":" in self.host else socket.AF_INET,
            backlog=2048,
        )
        # Without TCP_NODELAY, uvicorn's separate header and body writes on a pre-bound socket
        # meet the client's delayed ACK: every answer then takes ~40 ms instead of ~0.5 ms.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port = self._socket.getsockname()[1]
        issuer = self._requested_config.issuer or self._default_issuer()
        self.config = dataclasses.replace(self._requested_config, issuer=issuer)

    def _default_issuer(self) -> str:
        host = self.host
        if host in ("0.0.0.0", ""):  # noqa: S104 - only the issuer's spelling, not a bind
            host = "127.0.0.1"
        elif host in ("::", "::0"):
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"https://{host}:{self.port}"

    def _launch(self) -> None:
        assert self._tls is not None and self._socket is not None
        tls = self._tls
        app = create_sandbox_app(self.config, clock=self._clock, signing_key=self._signing_key)
        self._state = app.state.sandbox
        server_config = uvicorn.Config(
            app,
            http="h11",
            lifespan="off",
            log_config=None,
            log_level=None,
            # An idle keep-alive TLS connection of a client that is still open keeps uvicorn
            # waiting for the client's close_notify; do not wait long for it at shutdown.
            timeout_graceful_shutdown=1,
            ssl_context_factory=lambda _config, _default: tls.server_ssl_context(),
        )
        self._server = uvicorn.Server(server_config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"cdconnect-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._wait_until_started()
        self._control = SandboxControl(self.issuer, verify=self.client_ssl_context())

    def _wait_until_started(self) -> None:
        assert self._server is not None and self._thread is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the sandbox server failed to start")
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start in time")
            time.sleep(_WAIT_STEP)

    def stop(self) -> None:
        """Stop serving (hanging requests are released first) and remove temporary files."""
        # Close our own keep-alive connection first: uvicorn waits for open TLS connections.
        if self._control is not None:
            self._control.close()
        if self._state is not None:
            self._state.release_hangs()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(SHUTDOWN_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
        self._server = self._thread = self._control = self._socket = self._tempdir = None
        self._tls = None

    # --- what clients need --------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """``https://127.0.0.1:PORT`` (no trailing slash)."""
        if self.config.issuer is None:
            raise RuntimeError("the sandbox server is not started")
        return self.config.issuer

    @property
    def ca_file(self) -> Path:
        """The test CA's PEM file (mode 0600): what ``SSL_CERT_FILE`` must point to."""
        return self._running_tls().ca_file

    @property
    def state(self) -> SandboxState:
        """The in-process state (for assertions that the control API does not cover)."""
        if self._state is None:
            raise RuntimeError("the sandbox server is not started")
        return self._state

    @property
    def control(self) -> SandboxControl:
        """A control-API client over HTTPS."""
        if self._control is None:
            raise RuntimeError("the sandbox server is not started")
        return self._control

    def _running_tls(self) -> TlsMaterial:
        if self._tls is None:
            raise RuntimeError("the sandbox server is not started")
        return self._tls

    def client_ssl_context(self) -> ssl.SSLContext:
        """An SSL context that trusts the sandbox's test CA (and nothing else)."""
        return self._running_tls().client_ssl_context()

    def http_client(self, **kwargs: object) -> httpx.Client:
        """An ``httpx.Client`` with ``base_url`` = issuer, trusting the test CA."""
        return httpx.Client(
            base_url=self.issuer,
            verify=self.client_ssl_context(),
            **kwargs,  # type: ignore[arg-type]
        )

    def authorization_client(self) -> ClientRegistration:
        """The first client allowed to use the authorization-code flow."""
        return next(c for c in self.config.clients if AUTHORIZATION_CODE in c.allowed_grant_types)

    def service_client(self) -> ClientRegistration:
        """The first client allowed to use client credentials."""
        return next(c for c in self.config.clients if CLIENT_CREDENTIALS in c.allowed_grant_types)

    def env(self) -> dict[str, str]:
        """The environment a cdconnect client needs to use this sandbox."""
        client = self.authorization_client()
        service = self.service_client()
        return {
            "SSL_CERT_FILE": str(self.ca_file),
            "CDCONNECT_ISSUER": self.issuer,
            "CDCONNECT_CLIENT_ID": client.client_id,
            "CDCONNECT_CLIENT_SECRET": client.client_secret,
            "CDCONNECT_REDIRECT_URI": client.redirect_uris[0] if client.redirect_uris else "",
            "CDCONNECT_SERVICE_CLIENT_ID": service.client_id,
            "CDCONNECT_SERVICE_CLIENT_SECRET": service.client_secret,
        }

    def __repr__(self) -> str:
        return f"SandboxServer(issuer={self.config.issuer!r})"
