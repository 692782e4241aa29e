from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from cdconnect.errors import (
    OAUTH_ERRORS,
    Delivery,
    InvalidClient,
    InvalidGrant,
    InvalidTokenResponse,
    OAuthError,
    ResponseLost,
    ServerError,
    SlowDown,
    TemporarilyUnavailable,
    TokenEndpointError,
)
from cdconnect.models import TokenResponse
from cdconnect.oauth import (
    MAX_EXPIRES_IN,
    MAX_RESPONSE_BYTES,
    OAuthErrorBody,
    parse_error_body,
    parse_revocation_response,
    parse_token_response,
)
from tests.oauth.helpers import ACCESS_TOKEN, JSON_HEADERS, token_body

NOW = 1_700_000_000.0


def parse(status: int, body: bytes, headers: Mapping[str, str] | None = None) -> TokenResponse:
    return parse_token_response(status, JSON_HEADERS if headers is None else headers, body, now=NOW)


def error_body(error: str, description: str | None = None) -> bytes:
    payload: dict[str, Any] = {"error": error}
    if description is not None:
        payload["error_description"] = description
    return json.dumps(payload).encode()


# -- success ----------------------------------------------------------------------------------


def test_cds_documented_response() -> None:
    response = parse(200, token_body(scope="listing_service offline_access"))
    assert response.access_token.get_secret_value() == ACCESS_TOKEN
    assert response.token_type == "Bearer"
    assert response.expires_in == 3600
    assert response.expires_at == NOW + 3600
    assert response.refresh_token is not None
    assert response.refresh_token.get_secret_value() == "new-refresh-token"
    assert response.scope == ("listing_service", "offline_access")


def test_client_credentials_response_has_no_refresh_token() -> None:
    response = parse(200, token_body(refresh_token=None))
    assert response.refresh_token is None


@pytest.mark.parametrize("token_type", ["Bearer", "bearer", "BEARER"])
def test_token_type_case_insensitive(token_type: str) -> None:
    assert parse(200, token_body(token_type=token_type)).token_type == "Bearer"


@pytest.mark.parametrize(
    ("value", "seconds"), [(3600, 3600), (3600.0, 3600), ("3600", 3600), (1, 1)]
)
def test_expires_in_accepted_forms(value: object, seconds: int) -> None:
    response = parse(200, token_body(expires_in=value))
    assert response.expires_in == seconds
    assert response.expires_at == NOW + seconds


def test_scope_absent_or_blank_is_none() -> None:
    assert parse(200, token_body(scope=None)).scope is None
    assert parse(200, token_body(scope="")).scope is None


def test_content_type_may_be_absent_or_a_json_suffix() -> None:
    assert parse(200, token_body(), headers={}).expires_in == 3600
    json_suffix = {"content-type": "application/vnd.coxauto.v1+json"}
    assert parse(200, token_body(), headers=json_suffix).expires_in == 3600


def test_extra_fields_ignored() -> None:
    assert parse(200, token_body(id_token="x.y.z", extra={"a": 1})).expires_in == 3600


def test_repr_hides_tokens() -> None:
    response = parse(200, token_body())
    assert ACCESS_TOKEN not in repr(response)
    assert "new-refresh-token" not in repr(response)


# -- invalid 2xx bodies -------------------------------------------------------------------------

INVALID_BODIES = {
    "html": (b"<html><body>Login</body></html>", {"Content-Type": "text/html"}, "text/html"),
    "html without content type": (b"<html></html>", {}, "not valid JSON"),
    "cd docs sample, missing comma": (
        b'{"access_token": "x" "expires_in": 3600}',
        JSON_HEADERS,
        "not valid JSON",
    ),
    "empty": (b"", JSON_HEADERS, "empty"),
    "array": (b"[1, 2]", JSON_HEADERS, "an array"),
    "not utf-8": (b'{"a": "\xff"}', JSON_HEADERS, "UTF-8"),
    "duplicate key": (
        b'{"access_token": "a", "access_token": "b", "token_type": "Bearer", "expires_in": 1}',
        JSON_HEADERS,
        "duplicate key",
    ),
    "NaN": (token_body(expires_in=None)[:-1] + b', "expires_in": NaN}', JSON_HEADERS, "JSON"),
    "too large": (b" " * MAX_RESPONSE_BYTES + token_body(), JSON_HEADERS, "larger"),
    "deep nesting": (b"[" * 30_000 + b"]" * 30_000, {}, "JSON"),
    "huge integer": (b'{"expires_in": ' + b"9" * 5000 + b"}", JSON_HEADERS, "JSON"),
    "garbage content type": (token_body(), {"Content-Type": "\x00evil\r\n"}, "unrecognised"),
}


@pytest.mark.parametrize("case", sorted(INVALID_BODIES))
def test_unusable_2xx_body_is_invalid_token_response(case: str) -> None:
    body, headers, hint = INVALID_BODIES[case]
    with pytest.raises(InvalidTokenResponse, match=hint) as caught:
        parse(200, body, headers)
    assert caught.value.delivery is Delivery.AMBIGUOUS
    assert caught.value.status_code == 200


INVALID_FIELDS: dict[str, tuple[dict[str, Any], str]] = {
    "no access_token": ({"access_token": None}, "access_token is missing"),
    "empty access_token": ({"access_token": ""}, "access_token is empty"),
    "access_token with space": ({"access_token": "a b"}, "access_token"),
    "access_token with newline": ({"access_token": "a\r\nX-Evil: 1"}, "access_token"),
    "numeric access_token": ({"access_token": 5}, "access_token is a number"),
    "no token_type": ({"token_type": None}, "token_type is not Bearer"),
    "mac token_type": ({"token_type": "mac"}, "'mac'"),
    "no expires_in": ({"expires_in": None}, "expires_in is missing"),
    "zero expires_in": ({"expires_in": 0}, "between"),
    "negative expires_in": ({"expires_in": -5}, "between"),
    "huge expires_in": ({"expires_in": MAX_EXPIRES_IN + 1}, "between"),
    "fractional expires_in": ({"expires_in": 1.5}, "whole number"),
    "bool expires_in": ({"expires_in": True}, "a boolean"),
    "signed string expires_in": ({"expires_in": "+3600"}, "whole number"),
    "blank string expires_in": ({"expires_in": " 3600"}, "whole number"),
    "empty refresh_token": ({"refresh_token": ""}, "refresh_token"),
    "numeric refresh_token": ({"refresh_token": 7}, "refresh_token is a number"),
    "list scope": ({"scope": ["a", "b"]}, "scope is an array"),
}


@pytest.mark.parametrize("case", sorted(INVALID_FIELDS))
def test_invalid_fields_rejected(case: str) -> None:
    fields, hint = INVALID_FIELDS[case]
    with pytest.raises(InvalidTokenResponse, match=hint):
        parse(200, token_body(**fields))


def test_refresh_token_null_is_absent() -> None:
    body = json.dumps(
        {"access_token": "a", "token_type": "Bearer", "expires_in": 60, "refresh_token": None}
    ).encode()
    assert parse(200, body).refresh_token is None


def test_messages_never_quote_token_values() -> None:
    secret = "SECRET-token-value"
    with pytest.raises(InvalidTokenResponse) as caught:
        parse(200, token_body(access_token=secret + " x", refresh_token=secret))
    assert secret not in str(caught.value)


# -- error responses ----------------------------------------------------------------------------


@pytest.mark.parametrize("error", sorted(OAUTH_ERRORS))
def test_400_oauth_errors_mapped(error: str) -> None:
    with pytest.raises(OAUTH_ERRORS[error]) as caught:
        parse(400, error_body(error, "details"))
    assert caught.value.error == error
    assert caught.value.description == "details"
    assert caught.value.status_code == 400


def test_401_invalid_client() -> None:
    with pytest.raises(InvalidClient) as caught:
        parse(401, error_body("invalid_client"))
    assert caught.value.delivery is Delivery.REJECTED
    assert not caught.value.transient


def test_unknown_error_value_is_generic_oauth_error() -> None:
    with pytest.raises(OAuthError) as caught:
        parse(400, error_body("invalid_dpop_proof", "nope"))
    assert type(caught.value) is OAuthError
    assert caught.value.error == "invalid_dpop_proof"


def test_200_with_error_body_is_that_error() -> None:
    with pytest.raises(InvalidGrant) as caught:
        parse(200, error_body("invalid_grant"))
    assert caught.value.status_code == 200


def test_200_with_malformed_error_field() -> None:
    with pytest.raises(InvalidTokenResponse, match="'error'"):
        parse(200, token_body(error=42))


@pytest.mark.parametrize(
    "body", [b"", b"<html>Too Many</html>", error_body("slow_down"), error_body("invalid_grant")]
)
def test_429_is_slow_down_transient_not_consumed(body: bytes) -> None:
    with pytest.raises(SlowDown) as caught:
        parse(429, body)
    assert caught.value.transient
    assert caught.value.delivery is Delivery.REJECTED
    assert caught.value.status_code == 429


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize(
    ("body", "headers"),
    [(b"", {}), (b"<html>Bad gateway</html>", {"Content-Type": "text/html"}), (b"{}", {})],
)
def test_5xx_without_oauth_body_is_response_lost(
    status: int, body: bytes, headers: dict[str, str]
) -> None:
    with pytest.raises(ResponseLost) as caught:
        parse(status, body, headers)
    assert caught.value.delivery is Delivery.AMBIGUOUS
    assert caught.value.status_code == status


@pytest.mark.parametrize(
    ("status", "error", "cls"),
    [
        (503, "temporarily_unavailable", TemporarilyUnavailable),
        (500, "server_error", ServerError),
        (503, "server_error", ServerError),
    ],
)
def test_5xx_with_oauth_body_is_transient_not_consumed(
    status: int, error: str, cls: type[OAuthError]
) -> None:
    with pytest.raises(cls) as caught:
        parse(status, error_body(error))
    assert caught.value.transient
    assert caught.value.delivery is Delivery.REJECTED


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405])
def test_4xx_without_oauth_body_is_invalid_token_response(status: int) -> None:
    with pytest.raises(InvalidTokenResponse, match=str(status)):
        parse(status, b"<html>Not Found</html>", {"Content-Type": "text/html"})


@pytest.mark.parametrize("status", [100, 301, 302, 304, 0, 999])
def test_unexpected_status(status: int) -> None:
    with pytest.raises(InvalidTokenResponse, match="unexpected HTTP status"):
        parse(status, token_body())


def test_error_description_sanitized_and_secrets_redacted() -> None:
    description = "refresh token rt-SECRET-1234 is unknown\nFAKE LOG LINE" + "x" * 1000
    with pytest.raises(InvalidGrant) as caught:
        parse_token_response(
            400,
            JSON_HEADERS,
            error_body("invalid_grant", description),
            now=NOW,
            redact=("rt-SECRET-1234",),
        )
    message = str(caught.value)
    assert "rt-SECRET-1234" not in message
    assert "[redacted]" in message
    assert "\n" not in message
    assert len(message) < 400


def test_expiry_uses_the_given_now() -> None:
    early = parse_token_response(200, {}, token_body(expires_in=1800), now=10.0)
    late = parse_token_response(200, {}, token_body(expires_in=1800), now=20.5)
    assert (early.expires_at, late.expires_at) == (1810.0, 1820.5)


# -- error-body parser and revocation -------------------------------------------------------------


def test_parse_error_body() -> None:
    assert parse_error_body(JSON_HEADERS, error_body("invalid_grant", "used")) == OAuthErrorBody(
        "invalid_grant", "used"
    )
    assert parse_error_body(JSON_HEADERS, error_body("invalid_grant", "  ")) == OAuthErrorBody(
        "invalid_grant"
    )
    assert parse_error_body(JSON_HEADERS, b'{"error": ""}') is None
    assert parse_error_body(JSON_HEADERS, b'{"error": ["x"]}') is None
    assert parse_error_body(JSON_HEADERS, b'{"errors": [{"code": "x"}]}') is None
    assert parse_error_body({"content-type": "text/html"}, error_body("x")) is None


def test_revocation_success_and_failures() -> None:
    parse_revocation_response(200, {}, b"")  # no exception: revoked
    parse_revocation_response(204, JSON_HEADERS, error_body("ignored"))
    with pytest.raises(TemporarilyUnavailable):
        parse_revocation_response(503, JSON_HEADERS, error_body("temporarily_unavailable"))
    with pytest.raises(OAuthError, match="unsupported_token_type"):
        parse_revocation_response(400, JSON_HEADERS, error_body("unsupported_token_type"))
    with pytest.raises(ResponseLost):
        parse_revocation_response(502, {}, b"")


def test_every_failure_is_a_token_endpoint_error() -> None:
    for status in (400, 429, 500):
        with pytest.raises(TokenEndpointError):
            parse(status, b"")
