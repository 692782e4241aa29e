"""Property tests: whatever the server sends, we get a valid result or a typed error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cdconnect.errors import CDConnectError, OAuthError, TokenEndpointError
from cdconnect.models import TokenResponse
from cdconnect.oauth import (
    MAX_EXPIRES_IN,
    parse_error_body,
    parse_revocation_response,
    parse_token_response,
)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELD_NAMES = st.sampled_from(
    [
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "error",
        "error_description",
        "other",
    ]
)
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    st.sampled_from(["Bearer", "bearer", "mac", "3600", "invalid_grant", "a.b.c", "", " "]),
    st.integers(min_value=-10, max_value=MAX_EXPIRES_IN + 10),
)
TOKENISH = st.dictionaries(FIELD_NAMES, FIELD_VALUES, max_size=7)
STATUSES = st.one_of(
    st.sampled_from([200, 201, 204, 302, 400, 401, 403, 404, 429, 500, 502, 503]),
    st.integers(min_value=-5, max_value=1000),
)
HEADERS: st.SearchStrategy[dict[str, str]] = st.one_of(
    st.just({"Content-Type": "application/json"}),
    st.just({}),
    st.dictionaries(
        st.sampled_from(["Content-Type", "content-type", "X-Other"]),
        st.one_of(st.text(max_size=40), st.sampled_from(["text/html", "application/json"])),
        max_size=2,
    ),
)


def encoded(value: Any) -> bytes:
    return json.dumps(value).encode()


VALID_TOKEN = {
    "access_token": "a.b.c",
    "token_type": "Bearer",
    "expires_in": 3600,
    "refresh_token": "r",
    "scope": "marketplace",
}
#: A valid response with a few fields replaced, removed or added: the interesting boundary.
MUTATED_TOKENS = st.dictionaries(FIELD_NAMES, FIELD_VALUES, max_size=2).map(
    lambda changes: encoded({**VALID_TOKEN, **changes})
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(encoded),
    TOKENISH.map(encoded),
    MUTATED_TOKENS,
)


def token_or_error(
    status: int, headers: dict[str, str], body: bytes, now: float
) -> TokenResponse | CDConnectError:
    try:
        return parse_token_response(status, headers, body, now=now)
    except CDConnectError as exc:
        return exc


def decoded_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


NOWS = st.floats(min_value=0, max_value=2e9)


@given(STATUSES, HEADERS, BODIES, NOWS)
def test_token_response_is_valid_or_a_typed_error(
    status: int, headers: dict[str, str], body: bytes, now: float
) -> None:
    check_result_or_typed_error(status, headers, body, now)


@given(
    st.sampled_from([200, 201]), st.just({"Content-Type": "application/json"}), MUTATED_TOKENS, NOWS
)
def test_near_valid_2xx_is_valid_or_a_typed_error(
    status: int, headers: dict[str, str], body: bytes, now: float
) -> None:
    check_result_or_typed_error(status, headers, body, now)


def check_result_or_typed_error(
    status: int, headers: dict[str, str], body: bytes, now: float
) -> None:
    response = token_or_error(status, headers, body, now)
    if isinstance(response, CDConnectError):
        assert isinstance(response, TokenEndpointError)
        assert response.status_code == status
        return
    # A result only ever comes from a 2xx carrying a well-formed token and no error.
    assert 200 <= status < 300
    payload = decoded_or_none(body)
    assert isinstance(payload, dict)
    assert "error" not in payload
    assert response.access_token.get_secret_value() == payload["access_token"]
    assert " " not in response.access_token.get_secret_value()
    assert response.token_type == "Bearer"
    assert 0 < response.expires_in <= MAX_EXPIRES_IN
    assert response.expires_at == now + response.expires_in
    if response.refresh_token is not None:
        assert response.refresh_token.get_secret_value() == payload["refresh_token"]


@given(STATUSES, HEADERS, TOKENISH.map(encoded))
def test_error_classes_agree_with_the_body(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    result = token_or_error(status, headers, body, 0.0)
    if isinstance(result, OAuthError) and status != 429:
        payload = decoded_or_none(body)
        assert isinstance(payload, dict)
        assert result.error == payload["error"]
    else:
        assert isinstance(result, TokenResponse | TokenEndpointError)


@given(HEADERS, BODIES)
def test_error_body_parser_never_raises(headers: dict[str, str], body: bytes) -> None:
    parsed = parse_error_body(headers, body)
    if parsed is not None:
        payload = decoded_or_none(body)
        assert isinstance(payload, dict)
        assert parsed.error == payload["error"]
        assert parsed.description is None or parsed.description.isprintable()


@given(STATUSES, HEADERS, BODIES)
def test_revocation_response_is_none_or_a_typed_error(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    try:
        parse_revocation_response(status, headers, body)
    except TokenEndpointError:
        succeeded = False
    else:
        succeeded = True
    assert succeeded == (200 <= status < 300)
