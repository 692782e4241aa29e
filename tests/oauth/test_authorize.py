from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from cdconnect.errors import ConfigurationError, InsecureEndpointError
from cdconnect.oauth import (
    build_authorization_request,
    code_challenge_s256,
    new_code_verifier,
    new_state,
)
from tests.oauth.helpers import AUTHORIZE_URL, REDIRECT_URI

SCOPE = ("marketplace", "offline_access")


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def test_sends_exactly_cds_parameters_plus_state_and_pkce() -> None:
    request = build_authorization_request(
        authorize_endpoint=AUTHORIZE_URL, client_id="vendor", redirect_uri=REDIRECT_URI, scope=SCOPE
    )
    query = query_of(request.url)
    assert request.url.startswith(AUTHORIZE_URL + "?")
    assert set(query) == {
        "client_id",
        "grant_type",
        "response_type",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    }
    assert query["client_id"] == ["vendor"]
    assert query["grant_type"] == ["authorization_code"]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"] == ["marketplace offline_access"]
    assert query["state"] == [request.state.get_secret_value()]
    assert query["code_challenge_method"] == ["S256"]
    assert request.code_verifier is not None
    assert query["code_challenge"] == [code_challenge_s256(request.code_verifier)]
    assert request.scope == SCOPE
    assert request.redirect_uri == REDIRECT_URI


def test_scope_spaces_are_percent_encoded() -> None:
    request = build_authorization_request(
        authorize_endpoint=AUTHORIZE_URL, client_id="c", redirect_uri=REDIRECT_URI, scope=SCOPE
    )
    assert "scope=marketplace%20offline_access" in request.url


def test_pkce_can_be_turned_off() -> None:
    request = build_authorization_request(
        authorize_endpoint=AUTHORIZE_URL,
        client_id="c",
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        pkce=False,
    )
    query = query_of(request.url)
    assert request.code_verifier is None
    assert "code_challenge" not in query
    assert "code_challenge_method" not in query


def test_given_state_is_used_and_fresh_states_differ() -> None:
    given = SecretStr("given-state")
    request = build_authorization_request(
        authorize_endpoint=AUTHORIZE_URL,
        client_id="c",
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        state=given,
    )
    assert query_of(request.url)["state"] == ["given-state"]
    assert new_state().get_secret_value() != new_state().get_secret_value()


def test_existing_query_on_endpoint_is_kept() -> None:
    request = build_authorization_request(
        authorize_endpoint=AUTHORIZE_URL + "?tenant=1",
        client_id="c",
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
    )
    assert request.url.startswith(AUTHORIZE_URL + "?tenant=1&client_id=c")


def test_verifier_meets_rfc7636() -> None:
    for _ in range(50):
        verifier = new_code_verifier().get_secret_value()
        assert 43 <= len(verifier) <= 128
        assert re.fullmatch(r"[A-Za-z0-9\-._~]+", verifier)


def test_challenge_matches_rfc7636_appendix_b() -> None:
    verifier = SecretStr("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    assert code_challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    digest = hashlib.sha256(verifier.get_secret_value().encode()).digest()
    assert code_challenge_s256(verifier) == base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_repr_hides_state_and_verifier() -> None:
    request = build_authorization_request(
        authorize_endpoint=AUTHORIZE_URL, client_id="c", redirect_uri=REDIRECT_URI, scope=SCOPE
    )
    assert request.code_verifier is not None
    shown = repr(request)
    assert request.state.get_secret_value() not in shown
    assert request.code_verifier.get_secret_value() not in shown


def test_http_authorize_endpoint_refused() -> None:
    with pytest.raises(InsecureEndpointError, match=r"authorize endpoint must use https://"):
        build_authorization_request(
            authorize_endpoint="http://id.example.test/connect/authorize",
            client_id="c",
            redirect_uri=REDIRECT_URI,
            scope=SCOPE,
        )


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://127.0.0.1:8765/cb", "http://[::1]:8765/cb", "http://localhost/cb"],
)
def test_loopback_http_redirect_uri_allowed(redirect_uri: str) -> None:
    request = build_authorization_request(
        authorize_endpoint=AUTHORIZE_URL, client_id="c", redirect_uri=redirect_uri, scope=SCOPE
    )
    assert query_of(request.url)["redirect_uri"] == [redirect_uri]


@pytest.mark.parametrize(
    "redirect_uri", ["http://vendor.example.test/cb", "https://vendor.example.test/cb#frag"]
)
def test_unsafe_redirect_uri_refused(redirect_uri: str) -> None:
    with pytest.raises(InsecureEndpointError, match="redirect_uri"):
        build_authorization_request(
            authorize_endpoint=AUTHORIZE_URL, client_id="c", redirect_uri=redirect_uri, scope=SCOPE
        )


@pytest.mark.parametrize("scope", [(), ("",), ("two words",), ('quote"d',)])
def test_bad_scope_refused(scope: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError, match="scope"):
        build_authorization_request(
            authorize_endpoint=AUTHORIZE_URL, client_id="c", redirect_uri=REDIRECT_URI, scope=scope
        )


def test_scope_given_as_string_is_space_delimited() -> None:
    request = build_authorization_request(
        authorize_endpoint=AUTHORIZE_URL,
        client_id="c",
        redirect_uri=REDIRECT_URI,
        scope="marketplace  offline_access",
    )
    assert request.scope == SCOPE
