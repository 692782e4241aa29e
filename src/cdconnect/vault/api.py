"""The storage contract the manager relies on.

One implementation (``SqlStore``, SQLAlchemy Core) serves SQLite and PostgreSQL. Every method is
one short transaction: nothing here is ever held open across an HTTP call (DESIGN §4.3). Rows come
back decrypted (tokens as ``SecretStr``); encryption is the vault's business alone.

Times are seconds since the epoch (floats) taken from the caller's clock, so tests can move time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from pydantic import SecretStr

from cdconnect.models import Connection, ConnectionStatus, EventType, fingerprint


def secret_hash(value: SecretStr) -> str:
    """SHA-256 (hex): what the store keeps of a state, a link id or a browser secret."""
    # surrogatepass: any str hashes (a lone surrogate from a caller must not crash a compare).
    return hashlib.sha256(value.get_secret_value().encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    """A connection with its decrypted secrets. Internal to the manager; never shown to users."""

    id: str
    external_id: str
    status: ConnectionStatus
    scope: tuple[str, ...]
    generation: int
    lease_owner: str | None
    lease_until: float | None
    access_token: SecretStr | None
    access_expires_at: float | None
    refresh_token: SecretStr | None
    last_refresh_at: float | None
    failure_count: int
    last_error: str | None
    reauth_reason: str | None
    created_at: float
    updated_at: float
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __repr__(self) -> str:
        return (
            f"ConnectionRow(id={self.id!r}, external_id={self.external_id!r}, "
            f"status={self.status.value!r}, generation={self.generation}, "
            f"lease_owner={self.lease_owner!r})"
        )

    def public(self) -> Connection:
        """The token-free view handed to users."""
        return Connection(
            id=self.id,
            external_id=self.external_id,
            status=self.status,
            scope=self.scope,
            generation=self.generation,
            access_expires_at=self.access_expires_at,
            has_refresh_token=self.refresh_token is not None,
            created_at=self.created_at,
            updated_at=self.updated_at,
            last_refresh_at=self.last_refresh_at,
            failure_count=self.failure_count,
            last_error=self.last_error,
            reauth_reason=self.reauth_reason,
            refresh_token_fingerprint=(
                None if self.refresh_token is None else fingerprint(self.refresh_token)
            ),
            claims=self.claims,
        )


@dataclass(frozen=True, slots=True)
class NewTokens:
    """Tokens to store after a code exchange or a rotation."""

    access_token: SecretStr
    access_expires_at: float
    #: None keeps the stored refresh token (a response without one; CD always sends one).
    refresh_token: SecretStr | None
    scope: tuple[str, ...]
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __repr__(self) -> str:
        return f"NewTokens(access_expires_at={self.access_expires_at}, scope={self.scope!r})"


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    """A started connect: what the callback needs to finish it. Single use, short-lived."""

    id: str
    external_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    issuer: str
    code_verifier: SecretStr | None
    return_url: str | None
    created_at: float
    expires_at: float
    #: ``secret_hash`` of the browser secret given when its connect link was opened; None for
    #: authorizations not bound to a browser (``begin_connect``, or a link never opened).
    browser_binding_hash: str | None = None


@dataclass(frozen=True, slots=True)
class OpenedLink:
    """A connect link just opened: where to send the browser, and until when that works."""

    authorize_url: SecretStr
    #: When the pending authorization behind the link expires.
    expires_at: float


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """An event waiting in (or delivered from) the durable outbox."""

    id: str
    type: EventType
    connection_id: str
    external_id: str
    occurred_at: float
    data: Mapping[str, Any]
    attempts: int
    next_attempt_at: float
    delivered_at: float | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ConnectionPage:
    """One page of connections (no secrets) and the cursor of the next page, if any."""

    items: Sequence[Connection]
    next_cursor: str | None


class ConnectionStore(Protocol):
    """What the manager needs from storage. All methods are synchronous and short."""

    # -- connections ------------------------------------------------------------------------
    def get_connection(self, external_id: str) -> ConnectionRow | None: ...

    def list_connections(
        self, *, status: ConnectionStatus | None = None, limit: int = 100, cursor: str | None = None
    ) -> ConnectionPage: ...

    def save_connected(self, external_id: str, tokens: NewTokens, *, now: float) -> ConnectionRow:
        """Create the connection, or re-connect an existing external id (new grant).

        Bumps ``generation``, sets status ``active``, clears lease, failures and reauth reason, and
        adds a ``connection.connected`` event (``connection.recovered`` when the previous status
        was ``reauth_required``) to the outbox in the same transaction.
        """
        ...

    def try_acquire_lease(
        self, connection_id: str, *, generation: int, owner: str, until: float, now: float
    ) -> bool:
        """Claim the refresh lease iff the generation is unchanged and the lease is free/expired."""
        ...

    def renew_lease(self, connection_id: str, *, owner: str, until: float) -> bool: ...

    def release_lease(self, connection_id: str, *, owner: str) -> None: ...

    def store_rotation(
        self, connection_id: str, *, generation: int, tokens: NewTokens, now: float
    ) -> bool:
        """Fenced write: store new tokens iff generation is still ``generation``.

        Sets ``generation + 1``, clears the lease, failure count and last error, sets
        ``last_refresh_at``. Deliberately *not* conditional on the lease owner: a writer whose
        lease expired mid-call still holds the only copy of the new refresh token, and the
        generation alone proves nobody rotated since. Returns False when fenced out.
        """
        ...

    def record_failure(
        self, connection_id: str, *, owner: str, error: str, now: float, release: bool = True
    ) -> None:
        """Count a failed refresh attempt, remember the error, release the lease if ours."""
        ...

    def mark_reauth_required(
        self, connection_id: str, *, generation: int, reason: str, error: str | None, now: float
    ) -> bool:
        """Status ``reauth_required`` iff generation unchanged; adds the outbox event."""
        ...

    def disconnect(self, external_id: str, *, now: float) -> ConnectionRow | None:
        """Delete the tokens, status ``disconnected``, bump generation, add the outbox event.

        Returns the row as it was before (with its refresh token, for revocation) or None.
        """
        ...

    def claim_due_for_keepalive(
        self,
        *,
        owner: str,
        lease_until: float,
        refreshed_before: float,
        access_expiring_before: float | None,
        limit: int,
        now: float,
    ) -> list[ConnectionRow]:
        """Pick active connections due for a keep-alive refresh and lease them, atomically.

        Due: ``last_refresh_at`` (or ``created_at``) older than ``refreshed_before``, or (when
        given) access token expiring before ``access_expiring_before``. PostgreSQL selects with
        ``FOR UPDATE SKIP LOCKED`` so several workers never pick the same rows.
        """
        ...

    # -- pending authorizations ---------------------------------------------------------------
    def create_pending(
        self,
        *,
        state: SecretStr,
        external_id: str,
        redirect_uri: str,
        scope: tuple[str, ...],
        issuer: str,
        code_verifier: SecretStr | None,
        return_url: str | None,
        now: float,
        expires_at: float,
    ) -> PendingAuthorization:
        """Store a pending authorization keyed by a hash of ``state`` (never the state itself)."""
        ...

    def consume_pending(self, state: SecretStr, *, now: float) -> PendingAuthorization | None:
        """Mark the pending authorization used and return it; None if unknown/expired/used."""
        ...

    def attach_connect_link(
        self, pending_id: str, *, link: SecretStr, authorize_url: SecretStr
    ) -> None:
        """Give a pending authorization a single-use link id (stored hashed) and its authorize
        URL (stored encrypted: it carries the state). Used by the service's connect sessions."""
        ...

    def open_connect_link(
        self, link: SecretStr, *, browser_secret: SecretStr, now: float
    ) -> OpenedLink | None:
        """Mark the link opened and bind its pending authorization to the opening browser.

        In one statement: records when it was opened and ``secret_hash(browser_secret)`` (never
        the secret), which ``consume_pending`` hands back as ``browser_binding_hash``. None if
        the link is unknown, expired, already opened or its authorization used.
        """
        ...

    # -- outbox -------------------------------------------------------------------------------
    def claim_events(self, *, limit: int, now: float, lease_seconds: float) -> list[OutboxEvent]:
        """Undelivered events whose ``next_attempt_at`` has come; pushes it forward (a lease)."""
        ...

    def mark_event_delivered(self, event_id: str, *, now: float) -> None: ...

    def mark_event_failed(
        self, event_id: str, *, error: str, next_attempt_at: float, now: float
    ) -> None: ...

    # -- operations ---------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise ``StoreError`` unless the database answers and the schema is current."""
        ...

    def count_by_status(self) -> Mapping[ConnectionStatus, int]: ...

    @property
    def primary_key_id(self) -> str:
        """The id of the key new ciphertexts are sealed with."""
        ...

    def reencrypt_batch(self, *, after_id: str | None, limit: int) -> tuple[int, str | None]:
        """Re-encrypt up to ``limit`` connections (ordered by id) under the current key.

        Returns (rows re-encrypted, last id seen); resume with ``after_id`` = that id until None.
        """
        ...

    def close(self) -> None: ...
