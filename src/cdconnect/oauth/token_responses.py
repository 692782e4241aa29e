"""Parsing token-endpoint responses into a :class:`TokenResponse` or a classified error.

Pure functions: the caller passes the status, headers, body and the current time. The
classification (which error, transient or not, consumed or not) is documented in
``docs/protocol.md`` and drives the refresh triage.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from pydantic import SecretStr

from cdconnect.errors import (
    OAUTH_ERRORS,
    InvalidTokenResponse,
    OAuthError,
    ResponseLost,
    SlowDown,
    TokenEndpointError,
)
from cdconnect.models import TokenResponse
from cdconnect.oauth.json_body import NotAJsonObject, decode_json_object, json_type_name
from cdconnect.oauth.scopes import split_scope
from cdconnect.oauth.text import sanitize_description

#: A year: far beyond any real access-token lifetime, and still a sane timestamp to add to now.
MAX_EXPIRES_IN = 366 * 24 * 3600
#: RFC 6749 §A.7: error = 1*( %x20-21 / %x23-5B / %x5D-7E )
_ERROR_VALUE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]{1,128}")
#: Visible ASCII without spaces, so the token is safe in an ``Authorization: Bearer`` header.
_ACCESS_TOKEN = re.compile(r"[\x21-\x7e]+")
#: RFC 6749 §A.17: refresh-token = 1*VSCHAR
_REFRESH_TOKEN = re.compile(r"[\x20-\x7e]+")
_DIGITS = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True, slots=True)
class OAuthErrorBody:
    """An RFC 6749 §5.2 error body; ``description`` is sanitized for logs."""

    error: str
    description: str | None = None


def parse_token_response(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    redact: Collection[str] = (),
) -> TokenResponse:
    """A validated :class:`TokenResponse`, or raise the classified :class:`TokenEndpointError`.

    ``now`` is the time the request was sent (``expires_at = now + expires_in`` errs on the early
    side). ``redact`` lists secrets that were sent, masked if a server echoes one in its
    ``error_description``.
    """
    decoded = decode_json_object(headers, body)
    if not 200 <= status_code < 300:
        raise classify_failure(status_code, decoded, redact=redact)
    if isinstance(decoded, NotAJsonObject):
        raise InvalidTokenResponse(
            f"token endpoint answered HTTP {status_code}, but {decoded.reason}",
            status_code=status_code,
        )
    if "error" in decoded:
        # "200 with an error body": the server said no, whatever the status line claims.
        error_body = error_body_from(decoded, redact=redact)
        if error_body is None:
            raise InvalidTokenResponse(
                f"token endpoint answered HTTP {status_code} with a malformed 'error' field",
                status_code=status_code,
            )
        raise oauth_error_for(error_body, status_code=status_code)
    return _token_response(decoded, now=now, status_code=status_code)


def parse_error_body(
    headers: Mapping[str, str], body: bytes, *, redact: Collection[str] = ()
) -> OAuthErrorBody | None:
    """The RFC 6749 §5.2 error in ``body``, or None when it is not an OAuth error body."""
    decoded = decode_json_object(headers, body)
    if isinstance(decoded, NotAJsonObject):
        return None
    return error_body_from(decoded, redact=redact)


def parse_revocation_response(
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    redact: Collection[str] = (),
) -> None:
    """Return on success (any 2xx, RFC 7009 §2.2), else raise the classified error."""
    if 200 <= status_code < 300:
        return
    raise classify_failure(status_code, decode_json_object(headers, body), redact=redact)


def classify_failure(
    status_code: int,
    decoded: dict[str, Any] | NotAJsonObject,
    *,
    redact: Collection[str] = (),
) -> TokenEndpointError:
    """The error for a non-2xx answer (see the classification table in docs/protocol.md)."""
    error_body = (
        None if isinstance(decoded, NotAJsonObject) else error_body_from(decoded, redact=redact)
    )
    if status_code == 429:
        # Rate limited: refused before processing, so a refresh token was not consumed.
        return SlowDown(description=_slow_down_description(error_body), status_code=status_code)
    is_4xx_or_5xx = 400 <= status_code < 600
    if error_body is not None and is_4xx_or_5xx:
        return oauth_error_for(error_body, status_code=status_code)
    reason = decoded.reason if isinstance(decoded, NotAJsonObject) else "no OAuth error body"
    if 500 <= status_code < 600:
        # A gateway or crash page: the server may have consumed the token before failing.
        return ResponseLost(
            f"token endpoint answered HTTP {status_code} without an OAuth error body ({reason}); "
            "the request may have been processed",
            status_code=status_code,
        )
    if is_4xx_or_5xx:
        return InvalidTokenResponse(
            f"token endpoint answered HTTP {status_code} without an OAuth error body ({reason})",
            status_code=status_code,
        )
    return InvalidTokenResponse(
        f"token endpoint answered with unexpected HTTP status {status_code} "
        "(redirects are not followed)",
        status_code=status_code,
    )


def error_body_from(
    decoded: Mapping[str, Any], *, redact: Collection[str] = ()
) -> OAuthErrorBody | None:
    """Read ``error``/``error_description`` from a decoded object; None when ``error`` is bad."""
    error = decoded.get("error")
    if not isinstance(error, str) or not _ERROR_VALUE.fullmatch(error):
        return None
    description = decoded.get("error_description")
    if isinstance(description, str) and description.strip():
        return OAuthErrorBody(error, sanitize_description(description, redact=redact) or None)
    return OAuthErrorBody(error)


def is_valid_error_value(value: str) -> bool:
    """True for an RFC 6749 ``error`` value (printable ASCII without ``"`` or ``\\``)."""
    return _ERROR_VALUE.fullmatch(value) is not None


def oauth_error_for(error_body: OAuthErrorBody, *, status_code: int | None = None) -> OAuthError:
    """The :data:`OAUTH_ERRORS` class for ``error``; unknown values give :class:`OAuthError`."""
    cls = OAUTH_ERRORS.get(error_body.error, OAuthError)
    return cls(error=error_body.error, description=error_body.description, status_code=status_code)


def _slow_down_description(error_body: OAuthErrorBody | None) -> str:
    if error_body is None:
        return "rate limited (HTTP 429)"
    if error_body.error == "slow_down":
        return error_body.description or "rate limited (HTTP 429)"
    detail = f": {error_body.description}" if error_body.description else ""
    return f"rate limited (HTTP 429, {error_body.error}{detail})"


def _token_response(decoded: Mapping[str, Any], *, now: float, status_code: int) -> TokenResponse:
    def invalid(problem: str) -> InvalidTokenResponse:
        return InvalidTokenResponse(
            f"token endpoint answered HTTP {status_code}, but {problem}", status_code=status_code
        )

    access_token = decoded.get("access_token")
    if not isinstance(access_token, str) or not _ACCESS_TOKEN.fullmatch(access_token):
        raise invalid(_bad_string_reason("access_token", access_token))
    token_type = decoded.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise invalid(f"token_type is not Bearer (got {_shown_token_type(token_type)})")
    expires_in = _expires_in(decoded.get("expires_in"))
    if isinstance(expires_in, str):
        raise invalid(expires_in)
    refresh_token = decoded.get("refresh_token")
    if refresh_token is not None and (
        not isinstance(refresh_token, str) or not _REFRESH_TOKEN.fullmatch(refresh_token)
    ):
        raise invalid(_bad_string_reason("refresh_token", refresh_token))
    scope = decoded.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise invalid(f"scope is {json_type_name(scope)}, not a space-delimited string")
    return TokenResponse(
        access_token=SecretStr(access_token),
        token_type="Bearer",
        expires_in=expires_in,
        expires_at=now + expires_in,
        refresh_token=SecretStr(refresh_token) if refresh_token is not None else None,
        scope=(split_scope(scope) or None) if scope is not None else None,
    )


def _expires_in(value: object) -> int | str:
    """The lifetime in seconds, or a clause saying why ``value`` is not one.

    Accepted: a JSON integer, an integral JSON number (``3600.0``) or a string of ASCII digits
    (``"3600"``, which some servers send); 1 second to :data:`MAX_EXPIRES_IN`. Refused: missing,
    booleans, fractions, signs, blanks, zero, negatives.
    """
    if value is None:
        return "expires_in is missing"
    seconds: int | None = None
    if isinstance(value, bool):
        seconds = None  # bool is an int subclass; true is not "1 second"
    elif isinstance(value, int):
        seconds = value
    elif _is_integral_float(value) or (isinstance(value, str) and _DIGITS.fullmatch(value)):
        seconds = int(value)
    if seconds is None:
        return f"expires_in is not a whole number of seconds (got {json_type_name(value)})"
    if not 0 < seconds <= MAX_EXPIRES_IN:
        return f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds"
    return seconds


def _is_integral_float(value: object) -> TypeGuard[float]:
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


def _bad_string_reason(name: str, value: object) -> str:
    if value is None:
        return f"{name} is missing"
    if isinstance(value, str):
        return f"{name} is empty or contains characters a token cannot have"
    return f"{name} is {json_type_name(value)}, not a string"


def _shown_token_type(value: object) -> str:
    if isinstance(value, str) and value.isalnum() and len(value) <= 20:
        return repr(value)
    return "missing" if value is None else json_type_name(value)
