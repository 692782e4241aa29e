from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from pydantic import SecretStr

from cdconnect.errors import InsecureEndpointError
from cdconnect.oauth import (
    TokenRequest,
    authorization_code_request,
    client_credentials_request,
    refresh_token_request,
    revoke_request,
)
from tests.oauth.helpers import CLIENT_SECRET, CREDS, REDIRECT_URI, REFRESH_TOKEN, TOKEN_URL

CODE = "c0de" * 16 + "-1"
VERIFIER = "v" * 43


def body_form(request: TokenRequest) -> dict[str, str]:
    pairs = parse_qsl(request.body().decode("ascii"), strict_parsing=True)
    assert len(pairs) == len(dict(pairs))
    return dict(pairs)


def test_authorization_code_request_is_client_secret_post() -> None:
    request = authorization_code_request(
        TOKEN_URL,
        CREDS,
        code=SecretStr(CODE),
        redirect_uri=REDIRECT_URI,
        code_verifier=SecretStr(VERIFIER),
    )
    assert request.url == TOKEN_URL
    assert request.grant_type == "authorization_code"
    assert body_form(request) == {
        "client_id": "vendor-client",
        "client_secret": CLIENT_SECRET,
        "grant_type": "authorization_code",
        "code": CODE,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    }
    assert request.headers()["Content-Type"] == "application/x-www-form-urlencoded"


def test_authorization_code_request_without_pkce() -> None:
    request = authorization_code_request(
        TOKEN_URL, CREDS, code=SecretStr(CODE), redirect_uri=REDIRECT_URI, code_verifier=None
    )
    assert "code_verifier" not in body_form(request)


def test_refresh_token_request() -> None:
    request = refresh_token_request(TOKEN_URL, CREDS, refresh_token=SecretStr(REFRESH_TOKEN))
    assert body_form(request) == {
        "client_id": "vendor-client",
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
    }


def test_client_credentials_request_with_and_without_scope() -> None:
    plain = client_credentials_request(TOKEN_URL, CREDS)
    scoped = client_credentials_request(TOKEN_URL, CREDS, scope=["marketplace", "event_api"])
    assert body_form(plain) == {
        "client_id": "vendor-client",
        "client_secret": CLIENT_SECRET,
        "grant_type": "client_credentials",
    }
    assert body_form(scoped)["scope"] == "marketplace event_api"


def test_revoke_request() -> None:
    request = revoke_request(TOKEN_URL + "/revocation", CREDS, token=SecretStr(REFRESH_TOKEN))
    assert request.grant_type == "revocation"
    assert body_form(request) == {
        "client_id": "vendor-client",
        "client_secret": CLIENT_SECRET,
        "token": REFRESH_TOKEN,
        "token_type_hint": "refresh_token",
    }


def test_special_characters_are_form_encoded() -> None:
    request = refresh_token_request(TOKEN_URL, CREDS, refresh_token=SecretStr("a+b&c=d e/é"))
    assert body_form(request)["refresh_token"] == "a+b&c=d e/é"


def test_repr_and_str_hide_every_secret() -> None:
    request = authorization_code_request(
        TOKEN_URL,
        CREDS,
        code=SecretStr(CODE),
        redirect_uri=REDIRECT_URI,
        code_verifier=SecretStr(VERIFIER),
    )
    for shown in (repr(request), str(request), f"{request}"):
        for secret in (CLIENT_SECRET, CODE, VERIFIER):
            assert secret not in shown
        assert "vendor-client" in shown
        assert "authorization_code" in shown
    assert set(request.secret_values()) == {CLIENT_SECRET, CODE, VERIFIER}


def test_form_is_immutable() -> None:
    request = refresh_token_request(TOKEN_URL, CREDS, refresh_token=SecretStr(REFRESH_TOKEN))
    with pytest.raises(TypeError):
        request.form["grant_type"] = "other"  # type: ignore[index]


@pytest.mark.parametrize(
    "url", ["http://id.example.test/connect/token", "ftp://x/y", "https://user:pw@x/y", "/token"]
)
def test_non_https_token_endpoint_refused(url: str) -> None:
    with pytest.raises(InsecureEndpointError) as caught:
        refresh_token_request(url, CREDS, refresh_token=SecretStr(REFRESH_TOKEN))
    assert "pw" not in str(caught.value)


def test_token_request_constructed_directly_is_checked_too() -> None:
    with pytest.raises(InsecureEndpointError):
        TokenRequest("http://id.example.test/connect/token", {"grant_type": "refresh_token"})


def test_insecure_redirect_uri_refused_in_exchange() -> None:
    with pytest.raises(InsecureEndpointError, match="redirect_uri"):
        authorization_code_request(
            TOKEN_URL,
            CREDS,
            code=SecretStr(CODE),
            redirect_uri="http://vendor.example.test/cb",
            code_verifier=None,
        )
