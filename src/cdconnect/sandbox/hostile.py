"""Hostile answers: a token endpoint that says "200 OK" and hands back something unusable.

A broken gateway, a captive portal, a half-deployed server or a buggy identity server can answer
a token request with HTML, truncated or malformed JSON, megabytes of padding, the wrong types or
an error dressed up as a success. Clients must refuse all of it with a clear error and never
store a token out of it. The ``hostile`` fault switch makes the sandbox answer that way.

Whether the rotation is committed before the hostile answer is sent decides what a correct
client can still save, so each kind says it explicitly (see docs/sandbox.md):

* **commit first** (the default for every kind but one, the worst case): the code is redeemed or
  the refresh token consumed, new tokens are issued, and then the answer is garbage, often with
  the real new tokens inside it. A client that retries the old refresh token gets
  ``invalid_grant`` and must report the lost rotation.
* **answer first** (``oauth_error_200``): a well-formed OAuth error body is the server's
  definitive "no" (RFC 6749 §5.2) whatever the status line says, so nothing is consumed; the
  tokens in the body, if any, are decoys the sandbox never issued.

The ``hostile_commit`` switch overrides the kind's default either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cdconnect.sandbox.config import AUTHORIZATION_CODE, REFRESH_TOKEN
from cdconnect.sandbox.opaque import new_id, new_refresh_token

#: The grants whose answers can be hostile: the ones that hand out a customer's tokens.
HOSTILE_GRANT_TYPES = (AUTHORIZATION_CODE, REFRESH_TOKEN)
#: "Several megabytes": far beyond any real token response, small enough to build per request.
HUGE_BODY_BYTES = 5 * 1024 * 1024

_JSON = "application/json"
_HTML = "text/html; charset=utf-8"
_LOGIN_WALL = (
    "<!DOCTYPE html><html><head><title>Sign in</title></head><body>"
    "<h1>Your session has expired</h1><p>Please sign in again to continue.</p>"
    '<form method="post" action="/login"><input name="user"><button>Sign in</button></form>'
    "</body></html>"
)


class HostileKind(StrEnum):
    """What the token endpoint answers instead of a usable token response (all with 200)."""

    #: The real body with the comma after its first member missing (like CD's own doc sample).
    MALFORMED_JSON = "malformed_json"
    #: A login-wall HTML page, ``text/html``.
    HTML_200 = "html_200"
    #: The real body plus ``HUGE_BODY_BYTES`` of padding: valid JSON, absurd size.
    HUGE_BODY = "huge_body"
    #: ``"expires_in": "soon"``.
    EXPIRES_IN_TEXT = "expires_in_text"
    #: ``"access_token": 123``.
    ACCESS_TOKEN_NUMBER = "access_token_number"
    #: ``"token_type": "mac"``.
    TOKEN_TYPE_MAC = "token_type_mac"
    #: ``"expires_in": -3600``.
    EXPIRES_IN_NEGATIVE = "expires_in_negative"
    #: ``"expires_in": 0``.
    EXPIRES_IN_ZERO = "expires_in_zero"
    #: No ``expires_in`` at all.
    EXPIRES_IN_MISSING = "expires_in_missing"
    #: ``{"error": "server_error", ...}`` with status 200.
    OAUTH_ERROR_200 = "oauth_error_200"
    #: No body at all (``Content-Type: application/json``, ``Content-Length: 0``).
    EMPTY_BODY = "empty_body"
    #: The real body wrapped in a JSON array.
    JSON_ARRAY = "json_array"


#: Every kind's name, for validating the switch.
HOSTILE_KINDS = frozenset(kind.value for kind in HostileKind)
#: Kinds answered before anything is consumed unless ``hostile_commit`` says otherwise.
_ANSWER_FIRST = frozenset({HostileKind.OAUTH_ERROR_200})


def commits_first(kind: HostileKind, override: bool | None) -> bool:
    """Whether the grant is committed before the hostile answer (``override`` wins if set)."""
    if override is not None:
        return override
    return kind not in _ANSWER_FIRST


@dataclass(frozen=True, slots=True)
class HostileAnswer:
    """The status, media type and raw body the token endpoint sends instead of a success."""

    status: int
    media_type: str
    body: bytes

    def __repr__(self) -> str:
        # The body may hold real tokens (commit-first kinds).
        return f"HostileAnswer(status={self.status}, media_type={self.media_type!r})"


def decoy_success_body() -> dict[str, Any]:
    """A success body with token-shaped values the sandbox never issued (answer-first kinds)."""
    return {
        "access_token": f"decoy.{new_id()}.{new_id()}",
        "expires_in": 3600,
        "token_type": "Bearer",
        "refresh_token": new_refresh_token(),
        "scope": "marketplace offline_access",
    }


def hostile_answer(kind: HostileKind, success_body: Mapping[str, Any]) -> HostileAnswer:
    """The hostile answer of ``kind``, built from the success body it replaces."""
    return _BUILDERS[kind](dict(success_body))


def _json(value: object) -> HostileAnswer:
    return HostileAnswer(200, _JSON, json.dumps(value).encode("utf-8"))


def _missing_comma(body: dict[str, Any]) -> HostileAnswer:
    members = [f"{json.dumps(name)}: {json.dumps(value)}" for name, value in body.items()]
    text = "{" + members[0] + " " + ", ".join(members[1:]) + "}"
    return HostileAnswer(200, _JSON, text.encode("utf-8"))


def _huge(body: dict[str, Any]) -> HostileAnswer:
    return _json({**body, "padding": "0" * HUGE_BODY_BYTES})


def _without_expires_in(body: dict[str, Any]) -> HostileAnswer:
    return _json({name: value for name, value in body.items() if name != "expires_in"})


def _replaced(name: str, value: object) -> Callable[[dict[str, Any]], HostileAnswer]:
    return lambda body: _json({**body, name: value})


_BUILDERS: dict[HostileKind, Callable[[dict[str, Any]], HostileAnswer]] = {
    HostileKind.MALFORMED_JSON: _missing_comma,
    HostileKind.HTML_200: lambda _: HostileAnswer(200, _HTML, _LOGIN_WALL.encode("utf-8")),
    HostileKind.HUGE_BODY: _huge,
    HostileKind.EXPIRES_IN_TEXT: _replaced("expires_in", "soon"),
    HostileKind.ACCESS_TOKEN_NUMBER: _replaced("access_token", 123),
    HostileKind.TOKEN_TYPE_MAC: _replaced("token_type", "mac"),
    HostileKind.EXPIRES_IN_NEGATIVE: _replaced("expires_in", -3600),
    HostileKind.EXPIRES_IN_ZERO: _replaced("expires_in", 0),
    HostileKind.EXPIRES_IN_MISSING: _without_expires_in,
    HostileKind.OAUTH_ERROR_200: lambda _: _json(
        {"error": "server_error", "error_description": "the token service failed (hostile fault)"}
    ),
    HostileKind.EMPTY_BODY: lambda _: HostileAnswer(200, _JSON, b""),
    HostileKind.JSON_ARRAY: lambda body: _json([body]),
}
