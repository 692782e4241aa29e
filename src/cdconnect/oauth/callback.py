"""Parsing and validating the redirect back from ``/connect/authorize``.

The query string comes from the user's browser, so it is untrusted input: anything malformed
becomes a :class:`~cdconnect.errors.CallbackError`, never another exception.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl

from pydantic import SecretStr

from cdconnect.errors import IssuerMismatch, MalformedCallback, OAuthError, StateMismatch
from cdconnect.models import CallbackParams
from cdconnect.oauth.scopes import split_scope
from cdconnect.oauth.text import sanitize_description
from cdconnect.oauth.token_responses import OAuthErrorBody, is_valid_error_value, oauth_error_for

#: Far above any real callback (a 65-character code, a 43-character state, scope, iss).
MAX_QUERY_LENGTH = 8192
_MAX_FIELDS = 64
_KNOWN = frozenset({"code", "state", "iss", "scope", "error", "error_description", "error_uri"})


@dataclass(frozen=True, slots=True)
class CallbackErrorParams:
    """The parsed query of an error redirect (RFC 6749 §4.1.2.1), e.g. ``access_denied``."""

    state: SecretStr
    iss: str | None
    error: str
    error_description: str | None

    def __repr__(self) -> str:
        return f"CallbackErrorParams(error={self.error!r}, iss={self.iss!r})"


def parse_callback(query: str) -> CallbackParams | CallbackErrorParams:
    """Parse the callback's query string (with or without the leading ``?``).

    Raises :class:`MalformedCallback` when a required parameter is missing or empty, when any
    parameter we read appears more than once, or when the query cannot be decoded.
    """
    fields = _parse_fields(query.removeprefix("?"))
    if "error" in fields:
        if "code" in fields:
            raise MalformedCallback("callback carries both 'code' and 'error'")
        return _error_params(fields)
    return CallbackParams(
        code=SecretStr(_required(fields, "code")),
        state=SecretStr(_required(fields, "state")),
        iss=_optional_iss(fields),
        scope=split_scope(fields["scope"]) if "scope" in fields else None,
    )


def validate_callback(
    params: CallbackParams | CallbackErrorParams,
    *,
    expected_state: SecretStr,
    expected_issuer: str,
    require_iss: bool,
) -> CallbackParams:
    """Check ``state`` and ``iss``, then turn an error redirect into its :class:`OAuthError`.

    ``iss`` is checked before an error response is acted on (RFC 9207 §2.4): an error claimed by
    another issuer is a mix-up attack, not a reason to report the connection as denied.
    """
    if not _same_secret(params.state, expected_state):
        raise StateMismatch("the callback's state does not match the authorization request")
    if params.iss is None:
        if require_iss:
            raise IssuerMismatch("the callback has no 'iss' parameter (RFC 9207)")
    elif params.iss != expected_issuer:
        raise IssuerMismatch(
            f"the callback's iss {params.iss!r} is not the configured issuer {expected_issuer!r}"
        )
    if isinstance(params, CallbackErrorParams):
        raise _oauth_error(params)
    return params


def _parse_fields(query: str) -> dict[str, str]:
    if len(query) > MAX_QUERY_LENGTH:
        raise MalformedCallback(f"callback query is longer than {MAX_QUERY_LENGTH} characters")
    try:
        pairs = parse_qsl(
            query, keep_blank_values=True, errors="strict", max_num_fields=_MAX_FIELDS
        )
    except (ValueError, UnicodeError) as exc:
        # parse_qsl raises ValueError for too many fields and UnicodeDecodeError (a ValueError)
        # for escapes that are not UTF-8. Neither message reveals anything useful or secret.
        raise MalformedCallback("callback query cannot be decoded") from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name not in _KNOWN:
            continue  # e.g. IdentityServer's session_state: not ours to judge
        if name in fields:
            raise MalformedCallback(f"callback parameter {name!r} appears more than once")
        fields[name] = value
    return fields


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name, "")
    if not value:
        raise MalformedCallback(f"callback parameter {name!r} is missing")
    return value


def _optional_iss(fields: dict[str, str]) -> str | None:
    if "iss" not in fields:
        return None
    iss = fields["iss"]
    if not iss or not iss.isprintable():
        raise MalformedCallback("callback parameter 'iss' is empty or malformed")
    return iss


def _error_params(fields: dict[str, str]) -> CallbackErrorParams:
    error = fields["error"]
    if not is_valid_error_value(error):
        raise MalformedCallback("callback parameter 'error' is empty or malformed")
    description = fields.get("error_description")
    return CallbackErrorParams(
        state=SecretStr(_required(fields, "state")),
        iss=_optional_iss(fields),
        error=error,
        error_description=sanitize_description(description) if description else None,
    )


def _same_secret(received: SecretStr, expected: SecretStr) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str and the received value is untrusted.
    return hmac.compare_digest(
        received.get_secret_value().encode("utf-8", "surrogatepass"),
        expected.get_secret_value().encode("utf-8", "surrogatepass"),
    )


def _oauth_error(params: CallbackErrorParams) -> OAuthError:
    return oauth_error_for(OAuthErrorBody(params.error, params.error_description))
