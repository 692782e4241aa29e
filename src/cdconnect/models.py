"""Frozen value objects shared by every layer.

Secrets are held as :class:`pydantic.SecretStr`, whose ``repr``/``str`` print asterisks; call
``get_secret_value()`` only at the point where the value leaves the process (an HTTP header, a
form body, an encrypted column).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from pydantic import SecretStr

#: A clock returns the current time as seconds since the epoch (``time.time`` by default).
#: Injected everywhere expiry is computed so tests and the sandbox's clock offset stay exact.
Clock = Callable[[], float]


def utc(ts: float) -> datetime:
    """Seconds since the epoch as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, tz=UTC)


def fingerprint(secret: SecretStr) -> str:
    """A short SHA-256 fingerprint: tells tokens apart (e.g. before/after a rotation) without
    revealing anything usable about them."""
    return "sha256:" + hashlib.sha256(secret.get_secret_value().encode()).hexdigest()[:12]


def _frozen_mapping(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(data or {}))


class ConnectionStatus(StrEnum):
    """Lifecycle of a connection (DESIGN §4)."""

    #: Holds a usable grant; tokens are refreshed as needed.
    ACTIVE = "active"
    #: The grant is dead (revoked, password change, lost rotation); the customer must log in again.
    REAUTH_REQUIRED = "reauth_required"
    #: Disconnected on purpose; no tokens are kept.
    DISCONNECTED = "disconnected"


class EventType(StrEnum):
    """Connection events, delivered to library callbacks, webhooks, logs and metrics."""

    CONNECTED = "connection.connected"
    REFRESHED = "connection.refreshed"
    REAUTH_REQUIRED = "connection.reauth_required"
    RECOVERED = "connection.recovered"
    DISCONNECTED = "connection.disconnected"


class ReauthReason(StrEnum):
    """Why a connection moved to ``reauth_required``."""

    #: The server rejected the refresh token and no other worker had rotated it.
    GRANT_REVOKED = "grant_revoked"
    #: A refresh response was lost (timeout/reset) after the server consumed the token.
    ROTATION_RESPONSE_LOST = "rotation_response_lost"
    #: The connection has no refresh token (``offline_access`` not granted).
    NO_REFRESH_TOKEN = "no_refresh_token"


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A successful, validated response from the token endpoint."""

    access_token: SecretStr
    token_type: str
    expires_in: int
    #: ``issued_at + expires_in`` as seconds since the epoch, from the injected clock.
    expires_at: float
    refresh_token: SecretStr | None
    #: The scope the server granted (may differ from the one requested); None when not returned.
    scope: tuple[str, ...] | None

    def __repr__(self) -> str:
        return (
            f"TokenResponse(token_type={self.token_type!r}, expires_in={self.expires_in}, "
            f"refresh_token={'yes' if self.refresh_token else 'no'}, scope={self.scope!r})"
        )


@dataclass(frozen=True, slots=True)
class AccessToken:
    """What ``access_token()`` hands out: a bearer token and when it stops working."""

    access_token: SecretStr
    expires_at: float
    scope: tuple[str, ...] = ()
    token_type: str = "Bearer"
    external_id: str | None = None
    #: The connection's rotation counter when this token was stored (None for client tokens).
    generation: int | None = None

    @property
    def expires_at_datetime(self) -> datetime:
        return utc(self.expires_at)

    def authorization_header(self) -> str:
        """The ``Authorization`` header value (reveals the token: use it on the wire only)."""
        return f"Bearer {self.access_token.get_secret_value()}"

    def __repr__(self) -> str:
        return (
            f"AccessToken(external_id={self.external_id!r}, generation={self.generation}, "
            f"expires_at={self.expires_at_datetime.isoformat()}, scope={self.scope!r})"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """A customer's Central Dispatch connection as the vendor sees it (no token values)."""

    id: str
    external_id: str
    status: ConnectionStatus
    scope: tuple[str, ...]
    generation: int
    access_expires_at: float | None
    has_refresh_token: bool
    created_at: float
    updated_at: float
    last_refresh_at: float | None = None
    failure_count: int = 0
    last_error: str | None = None
    reauth_reason: str | None = None
    #: ``fingerprint()`` of the current refresh token: shows rotations, reveals nothing.
    refresh_token_fingerprint: str | None = None
    #: Unverified JWT claims of the last access token, as optional metadata (never identity).
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "claims", _frozen_mapping(self.claims))


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """An authorization URL to send the user's browser to, with what the callback must check."""

    url: str
    state: SecretStr
    code_verifier: SecretStr | None
    redirect_uri: str
    scope: tuple[str, ...]

    def __repr__(self) -> str:
        return f"AuthorizationRequest(redirect_uri={self.redirect_uri!r}, scope={self.scope!r})"


@dataclass(frozen=True, slots=True)
class CallbackParams:
    """The parsed query of a successful redirect back from ``/connect/authorize``."""

    code: SecretStr
    state: SecretStr
    iss: str | None
    scope: tuple[str, ...] | None

    def __repr__(self) -> str:
        return f"CallbackParams(iss={self.iss!r}, scope={self.scope!r})"


@dataclass(frozen=True, slots=True)
class Event:
    """A connection lifecycle event."""

    id: str
    type: EventType
    external_id: str
    connection_id: str
    occurred_at: float
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", _frozen_mapping(self.data))
