"""One storm worker per process, for each compared library, in its documented refresh pattern.

Every worker starts from what is shared (the token file, or cdconnect's vault), waits for the
start signal, makes ONE call to the listings resource with an expired token (so the library has
to refresh first), and reports the HTTP status or the exception. Each logs at DEBUG to its own
file, which is then searched for secrets like the chaos suite's logs are.
"""

from __future__ import annotations

import logging
import os
import ssl
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.compare.tokens import LISTINGS, LISTINGS_HEADERS, read_token, write_token

CDCONNECT = "cdconnect"
AUTHLIB = "authlib"
REQUESTS_OAUTHLIB = "requests-oauthlib"
LIBRARIES = (CDCONNECT, AUTHLIB, REQUESTS_OAUTHLIB)
EXTERNAL_ID = "acme"
LOG_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a worker process needs. Holds the client secret: benchmark use only."""

    library: str
    issuer: str
    ca_file: str
    client_id: str
    client_secret: str = field(repr=False)
    log_file: str
    #: Authlib and requests-oauthlib: the shared JSON token file.
    token_file: str = ""
    #: cdconnect: settings values (``load_settings(**settings)``) and the clock offset that
    #: makes its stored access token expired.
    settings: Mapping[str, Any] = field(default_factory=dict, repr=False)
    clock_offset: float = 0.0


@dataclass(frozen=True, slots=True)
class WorkerResult:
    status_code: int | None
    #: Exception class (and OAuth error code) when the call raised.
    error: str | None
    seconds: float


Call = Callable[[], int]
Close = Callable[[], None]


def run_worker(spec: WorkerSpec, ready: Any, go: Any, out: Any) -> None:
    """Process entry point: prepare, say ready, wait for ``go``, call once, report."""
    _log_to(spec.log_file)
    call, close = PREPARE[spec.library](spec)
    ready.put(os.getpid())
    go.wait(600)
    started = time.perf_counter()
    try:
        status, error = call(), None
    except Exception as exc:
        status, error = None, describe(exc)
    out.put(WorkerResult(status, error, time.perf_counter() - started))
    close()


def describe(exc: BaseException) -> str:
    """Class name plus the OAuth error code the libraries attach (never the message)."""
    code = getattr(exc, "error", None) or getattr(exc, "code", None)
    return f"{type(exc).__name__}({code})" if isinstance(code, str) else type(exc).__name__


def _context(spec: WorkerSpec) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=spec.ca_file)


def prepare_cdconnect(spec: WorkerSpec) -> tuple[Call, Close]:
    """The documented pattern: one manager per process, its ``httpx.Auth`` on a client."""
    from cdconnect.manager import open_manager
    from cdconnect.settings import load_settings
    from cdconnect.testing import OffsetClock

    manager = open_manager(load_settings(**spec.settings), clock=OffsetClock(spec.clock_offset))
    http = httpx.Client(auth=manager.auth(EXTERNAL_ID), verify=_context(spec))

    def close() -> None:
        http.close()
        manager.close()

    return lambda: http.get(f"{spec.issuer}{LISTINGS}", headers=LISTINGS_HEADERS).status_code, close


def prepare_authlib(spec: WorkerSpec) -> tuple[Call, Close]:
    """Authlib's documented auto-refresh: ``token_endpoint`` plus an ``update_token`` hook."""
    from authlib.deprecate import AuthlibDeprecationWarning  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        # Authlib 1.9 warns that it would rather run on the "httpx2" package than on httpx;
        # the refresh logic compared here is the same either way. (Its module adds an "always"
        # filter on import, hence the import above, before this filter.)
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]

    path = Path(spec.token_file)

    def update_token(token: Mapping[str, Any], **_: Any) -> None:
        write_token(path, dict(token))

    client = OAuth2Client(
        client_id=spec.client_id,
        client_secret=spec.client_secret,
        token_endpoint_auth_method="client_secret_post",
        token_endpoint=f"{spec.issuer}/connect/token",
        token=read_token(path),
        update_token=update_token,
        verify=_context(spec),
    )
    url = f"{spec.issuer}{LISTINGS}"
    return lambda: client.get(url, headers=LISTINGS_HEADERS).status_code, client.close


def prepare_requests_oauthlib(spec: WorkerSpec) -> tuple[Call, Close]:
    """requests-oauthlib's documented auto-refresh: ``auto_refresh_url`` + ``token_updater``.

    The client credentials go in ``auto_refresh_kwargs`` (form body: Central Dispatch's
    client_secret_post), not as ``client_id``/``client_secret`` arguments, which would switch
    the refresh to HTTP Basic as well.
    """
    from requests_oauthlib import OAuth2Session  # type: ignore[import-untyped]

    path = Path(spec.token_file)
    session = OAuth2Session(
        client_id=spec.client_id,
        token=read_token(path),
        auto_refresh_url=f"{spec.issuer}/connect/token",
        auto_refresh_kwargs={"client_id": spec.client_id, "client_secret": spec.client_secret},
        token_updater=lambda token: write_token(path, dict(token)),
    )
    url = f"{spec.issuer}{LISTINGS}"
    # ``verify`` per request, not ``session.verify``: requests lets REQUESTS_CA_BUNDLE in the
    # environment override the session's setting. OAuth2Session passes it on to the refresh.
    return (
        lambda: session.get(url, headers=LISTINGS_HEADERS, verify=spec.ca_file).status_code,
        session.close,
    )


PREPARE: dict[str, Callable[[WorkerSpec], tuple[Call, Close]]] = {
    CDCONNECT: prepare_cdconnect,
    AUTHLIB: prepare_authlib,
    REQUESTS_OAUTHLIB: prepare_requests_oauthlib,
}


def _log_to(path: str) -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
