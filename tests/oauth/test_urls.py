from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdconnect.errors import InsecureEndpointError
from cdconnect.oauth import require_https, require_redirect_uri
from cdconnect.oauth.urls import check_https_url, describe_url, is_loopback_host


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.3.4.5", "::1"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["example.com", "10.0.0.1", "localhost.evil.com", "::2", ""])
def test_non_loopback_hosts(host: str) -> None:
    assert not is_loopback_host(host)


def test_describe_url_drops_credentials_and_query() -> None:
    shown = describe_url("https://user:pw@host.example:8443/path?token=abc#frag")
    assert shown == "https://host.example:8443/path"


def test_describe_url_of_garbage() -> None:
    assert describe_url("http://[::1") == "<unparseable URL>"
    assert describe_url("no-scheme") == "<URL without a scheme>"


@pytest.mark.parametrize(
    "url",
    [
        "http://id.example.test/",
        "HTTP://id.example.test/",
        "ftp://id.example.test/",
        "https://",
        "https:///path",
        "id.example.test/connect/token",
        "https://id.example.test:99999/",
        "https://id.example.test/ space",
        "https://id.example.test/\n",
        "https://user@id.example.test/",
        "http://127.0.0.1/",
    ],
)
def test_require_https_refuses(url: str) -> None:
    with pytest.raises(InsecureEndpointError, match=r"^token endpoint "):
        require_https(url, name="token endpoint")


def test_require_https_accepts() -> None:
    assert require_https("https://id.example.test/x", name="x") == "https://id.example.test/x"
    assert require_https("HTTPS://ID.example.test", name="x") == "HTTPS://ID.example.test"


def test_redirect_uri_rules() -> None:
    assert require_redirect_uri("http://127.0.0.1:5000/cb") == "http://127.0.0.1:5000/cb"
    assert require_redirect_uri("http://[::1]/cb") == "http://[::1]/cb"
    with pytest.raises(InsecureEndpointError, match="https:// or http:// on a loopback host"):
        require_redirect_uri("http://10.0.0.1/cb")
    with pytest.raises(InsecureEndpointError, match="fragment"):
        require_redirect_uri("https://vendor.example/cb#x")


@given(st.text(max_size=80), st.booleans())
def test_check_https_url_never_raises(url: str, allow_loopback: bool) -> None:
    problem = check_https_url(url, allow_loopback_http=allow_loopback)
    if problem is None:
        assert url.lower().startswith(("https://", "http://"))
