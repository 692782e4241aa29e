"""Conversions between database rows and the store's value objects.

Secrets are sealed with the row id and column name as associated data (see ``crypto``); scopes
are space-delimited text; claims and event data are JSON text.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pydantic import SecretStr
from sqlalchemy.engine import Row

from cdconnect.errors import InvalidInput
from cdconnect.models import Connection, ConnectionStatus, EventType
from cdconnect.vault.api import ConnectionRow, OutboxEvent, PendingAuthorization
from cdconnect.vault.crypto import KeyRing

# Column names, also the "field" half of each ciphertext's associated data.
ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"
CODE_VERIFIER = "code_verifier"
AUTHORIZE_URL = "authorize_url"

_CURSOR_PREFIX = "c1."


def _time(value: float | None) -> float | None:
    # SQLite's RETURNING hands back integral REAL values as int; keep the declared type.
    return None if value is None else float(value)


def encode_scope(scope: tuple[str, ...]) -> str:
    return " ".join(scope)


def decode_scope(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def encode_json(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), separators=(",", ":"), sort_keys=True, default=str)


def decode_json(text: str) -> Mapping[str, Any]:
    value = json.loads(text)
    return MappingProxyType(value if isinstance(value, dict) else {})


def seal(ring: KeyRing, secret: SecretStr | None, *, record_id: str, field: str) -> bytes | None:
    if secret is None:
        return None
    return ring.encrypt(secret.get_secret_value().encode(), record_id=record_id, field=field)


def unseal(ring: KeyRing, blob: bytes | None, *, record_id: str, field: str) -> SecretStr | None:
    if blob is None:
        return None
    return SecretStr(ring.decrypt(blob, record_id=record_id, field=field).decode())


def connection_row(ring: KeyRing, row: Row[Any]) -> ConnectionRow:
    """A full ``connections`` row, decrypted."""
    return ConnectionRow(
        id=row.id,
        external_id=row.external_id,
        status=ConnectionStatus(row.status),
        scope=decode_scope(row.scope),
        generation=row.generation,
        lease_owner=row.lease_owner,
        lease_until=_time(row.lease_until),
        access_token=unseal(ring, row.access_token, record_id=row.id, field=ACCESS_TOKEN),
        access_expires_at=_time(row.access_expires_at),
        refresh_token=unseal(ring, row.refresh_token, record_id=row.id, field=REFRESH_TOKEN),
        last_refresh_at=_time(row.last_refresh_at),
        failure_count=row.failure_count,
        last_error=row.last_error,
        reauth_reason=row.reauth_reason,
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
        claims=decode_json(row.claims),
    )


def public_connection(row: Row[Any]) -> Connection:
    """The token-free view, from a row selected with a ``has_refresh_token`` flag (no decrypt)."""
    return Connection(
        id=row.id,
        external_id=row.external_id,
        status=ConnectionStatus(row.status),
        scope=decode_scope(row.scope),
        generation=row.generation,
        access_expires_at=_time(row.access_expires_at),
        has_refresh_token=bool(row.has_refresh_token),
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
        last_refresh_at=_time(row.last_refresh_at),
        failure_count=row.failure_count,
        last_error=row.last_error,
        reauth_reason=row.reauth_reason,
        claims=decode_json(row.claims),
    )


def pending_authorization(ring: KeyRing, row: Row[Any]) -> PendingAuthorization:
    return PendingAuthorization(
        id=row.id,
        external_id=row.external_id,
        redirect_uri=row.redirect_uri,
        scope=decode_scope(row.scope),
        issuer=row.issuer,
        code_verifier=unseal(ring, row.code_verifier, record_id=row.id, field=CODE_VERIFIER),
        return_url=row.return_url,
        created_at=float(row.created_at),
        expires_at=float(row.expires_at),
        browser_binding_hash=row.browser_binding_hash,
    )


def outbox_event(row: Row[Any]) -> OutboxEvent:
    return OutboxEvent(
        id=row.id,
        type=EventType(row.type),
        connection_id=row.connection_id,
        external_id=row.external_id,
        occurred_at=float(row.occurred_at),
        data=decode_json(row.data),
        attempts=row.attempts,
        next_attempt_at=float(row.next_attempt_at),
        delivered_at=_time(row.delivered_at),
        last_error=row.last_error,
    )


def encode_cursor(last_external_id: str) -> str:
    """An opaque keyset cursor: the page continues after this external id."""
    raw = base64.urlsafe_b64encode(last_external_id.encode()).rstrip(b"=").decode("ascii")
    return _CURSOR_PREFIX + raw


def decode_cursor(cursor: str) -> str:
    """The external id a cursor points after; InvalidInput for anything not made by us."""
    if not cursor.startswith(_CURSOR_PREFIX):
        raise InvalidInput("invalid list cursor")
    raw = cursor[len(_CURSOR_PREFIX) :]
    try:
        padded = raw + "=" * (-len(raw) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidInput("invalid list cursor") from None
