"""TLS trust, timeouts and the https-only rule of the clients built from settings."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from cdconnect.errors import (
    ConfigurationError,
    InsecureEndpointError,
    RequestNotSent,
    ResponseLost,
)
from cdconnect.oauth import (
    AsyncTokenClient,
    TokenClient,
    build_async_http_client,
    build_http_client,
    client_credentials_request,
    ssl_context,
)
from cdconnect.settings import Settings, load_settings
from tests.oauth.helpers import CREDS
from tests.oauth.tls_server import TOKEN_JSON, https_silent_server, https_token_server

pytestmark = pytest.mark.usefixtures("clean_environment")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def server_url(ca: trustme.CA) -> Iterator[str]:
    with https_token_server(ca) as url:
        yield url


def settings_with(**overrides: object) -> Settings:
    return load_settings(
        client_id="vendor-client",
        client_secret="secret",
        redirect_uri="https://vendor.example.test/cb",
        **overrides,
    )


def fetch_token(settings: Settings, server_url: str) -> str:
    with build_http_client(settings) as http:
        client = TokenClient(http, sleep=lambda _: None)
        response = client.send(client_credentials_request(f"{server_url}/connect/token", CREDS))
    return response.access_token.get_secret_value()


def test_ca_file_is_trusted(ca_file: Path, server_url: str) -> None:
    settings = settings_with(ca_file=ca_file)
    assert fetch_token(settings, server_url) == TOKEN_JSON["access_token"]


def test_ssl_cert_file_from_environment_is_trusted(
    ca_file: Path, server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    assert fetch_token(settings_with(), server_url) == TOKEN_JSON["access_token"]


def test_unknown_ca_is_refused_as_not_sent(server_url: str) -> None:
    with pytest.raises(RequestNotSent, match="ConnectError"):
        fetch_token(settings_with(), server_url)


def test_async_client_over_tls(ca_file: Path, server_url: str) -> None:
    async def fetch() -> str:
        async with build_async_http_client(settings_with(ca_file=ca_file)) as http:
            request = client_credentials_request(f"{server_url}/connect/token", CREDS)
            response = await AsyncTokenClient(http).send(request)
        return response.access_token.get_secret_value()

    assert asyncio.run(fetch()) == TOKEN_JSON["access_token"]


def test_context_verifies_and_requires_tls12(ca_file: Path) -> None:
    context = ssl_context(settings_with(ca_file=ca_file))
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_unreadable_ca_file_names_the_variable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigurationError, match="CDCONNECT_CA_FILE"):
        ssl_context(settings_with(ca_file=bad))


def test_unreadable_ssl_cert_file_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError, match="SSL_CERT_FILE"):
        ssl_context(settings_with())


def test_client_settings() -> None:
    settings = settings_with(http_connect_timeout=3, http_read_timeout=7, lease_seconds=60)
    with build_http_client(settings) as http:
        assert http.timeout.connect == 3
        assert http.timeout.read == 7
        assert not http.follow_redirects
        assert http.headers["User-Agent"].startswith("cdconnect/")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://id.example.test/connect/token"])
def test_http_url_refused_before_sending(url: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with build_http_client(settings_with(), transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(InsecureEndpointError, match="non-https"):
            http.get(url)
        assert http.get("https://id.example.test/").status_code == 200

    async def async_get() -> None:
        transport = httpx.MockTransport(handler)
        async with build_async_http_client(settings_with(), transport=transport) as http:
            with pytest.raises(InsecureEndpointError, match="non-https"):
                await http.post(url)

    asyncio.run(async_get())
    assert [str(r.url) for r in seen] == ["https://id.example.test/"]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_refused_connection_is_not_sent_and_retried() -> None:
    pauses: list[float] = []
    with build_http_client(settings_with()) as http:
        client = TokenClient(http, sleep=pauses.append)
        request = client_credentials_request(f"https://127.0.0.1:{closed_port()}/token", CREDS)
        with pytest.raises(RequestNotSent, match="ConnectError"):
            client.send(request)
    assert pauses == [0.2, 0.4]


def test_unanswered_request_is_response_lost_and_not_retried(ca: trustme.CA, ca_file: Path) -> None:
    settings = settings_with(ca_file=ca_file, http_read_timeout=0.2, lease_seconds=20)
    with https_silent_server(ca) as (url, server), build_http_client(settings) as http:
        client = TokenClient(http, sleep=lambda _: pytest.fail("must not retry"))
        with pytest.raises(ResponseLost, match="ReadTimeout"):
            client.send(client_credentials_request(f"{url}/connect/token", CREDS))
        assert server.received == 1
