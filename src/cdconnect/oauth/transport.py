"""httpx clients for talking to Central Dispatch: verified TLS, bounded timeouts, https only."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import certifi
import httpx

from cdconnect import __version__
from cdconnect.errors import ConfigurationError, InsecureEndpointError
from cdconnect.oauth.urls import describe_url

if TYPE_CHECKING:
    from cdconnect.settings import Settings

USER_AGENT = f"cdconnect/{__version__}"


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A verifying TLS context: the system store and certifi, plus any configured extra CAs.

    Extra CAs come from ``ca_file`` (``CDCONNECT_CA_FILE``) and from ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` in the environment; they add to the defaults, they never replace them. There
    is deliberately no way to turn verification off: tests use a local CA instead.
    """
    context = ssl.create_default_context()  # system store; OpenSSL also honours SSL_CERT_*
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=certifi.where())
    _load_extra_ca(context, settings.ca_file, "CDCONNECT_CA_FILE")
    _load_extra_ca(context, os.environ.get("SSL_CERT_FILE") or None, "SSL_CERT_FILE")
    cert_dir = os.environ.get("SSL_CERT_DIR")
    if cert_dir and os.path.isdir(cert_dir):
        context.load_verify_locations(capath=cert_dir)
    return context


def http_timeout(settings: Settings) -> httpx.Timeout:
    """Connect and read timeouts from the settings; both stay well inside the refresh lease."""
    return httpx.Timeout(
        connect=settings.http_connect_timeout,
        read=settings.http_read_timeout,
        write=settings.http_read_timeout,
        pool=settings.http_connect_timeout,
    )


def build_http_client(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """A blocking client for CD: verified TLS, no redirects, and no request to a non-https URL."""
    return httpx.Client(
        verify=ssl_context(settings),
        timeout=http_timeout(settings),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        event_hooks={"request": [refuse_insecure_request]},
        transport=transport,
    )


def build_async_http_client(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The async twin of :func:`build_http_client`."""
    return httpx.AsyncClient(
        verify=ssl_context(settings),
        timeout=http_timeout(settings),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        event_hooks={"request": [refuse_insecure_request_async]},
        transport=transport,
    )


def refuse_insecure_request(request: httpx.Request) -> None:
    """httpx request hook: raise :class:`InsecureEndpointError` before anything is sent."""
    if request.url.scheme != "https":
        raise InsecureEndpointError(
            f"refusing to send a request to a non-https URL ({describe_url(str(request.url))})"
        )


async def refuse_insecure_request_async(request: httpx.Request) -> None:
    refuse_insecure_request(request)


def _load_extra_ca(context: ssl.SSLContext, path: Path | str | None, variable: str) -> None:
    if path is None:
        return
    try:
        context.load_verify_locations(cafile=os.fspath(path))
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConfigurationError(
            f"{variable} does not name a readable PEM certificate bundle ({type(exc).__name__})"
        ) from exc
