"""Connection reads and lifecycle writes (connect, disconnect, listing, counts).

Each function runs inside the caller's transaction; the store opens exactly one per method.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Insert, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from cdconnect.errors import InvalidInput
from cdconnect.models import ConnectionStatus, EventType
from cdconnect.vault.api import ConnectionPage, ConnectionRow, NewTokens
from cdconnect.vault.crypto import KeyRing
from cdconnect.vault.outbox import add_event
from cdconnect.vault.rows import (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    connection_row,
    decode_cursor,
    encode_cursor,
    encode_json,
    encode_scope,
    public_connection,
    seal,
)
from cdconnect.vault.schema import connections

MAX_PAGE_SIZE = 1000

_c = connections.c

# Built once: the hot read path skips statement construction (compiled SQL is cached too).
_GET_BY_EXTERNAL_ID = select(connections).where(_c.external_id == bindparam("external_id"))

_PUBLIC_COLUMNS = [column for column in _c if column.name not in {ACCESS_TOKEN, REFRESH_TOKEN}] + [
    _c.refresh_token.is_not(None).label("has_refresh_token")
]

#: The clean slate of a connection that holds no grant.
_NO_GRANT: Mapping[str, Any] = {
    "lease_owner": None,
    "lease_until": None,
    "access_token": None,
    "access_expires_at": None,
    "refresh_token": None,
}


def get(conn: Connection, ring: KeyRing, external_id: str) -> ConnectionRow | None:
    row = conn.execute(_GET_BY_EXTERNAL_ID, {"external_id": external_id}).first()
    return None if row is None else connection_row(ring, row)


def list_page(
    conn: Connection, *, status: ConnectionStatus | None, limit: int, cursor: str | None
) -> ConnectionPage:
    """One page ordered by external id; the cursor is the last external id, opaquely encoded."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    limit = min(limit, MAX_PAGE_SIZE)
    query = select(*_PUBLIC_COLUMNS).order_by(_c.external_id).limit(limit + 1)
    if status is not None:
        query = query.where(_c.status == status.value)
    if cursor is not None:
        query = query.where(_c.external_id > decode_cursor(cursor))
    rows = conn.execute(query).all()
    items = [public_connection(row) for row in rows[:limit]]
    more = len(rows) > limit
    return ConnectionPage(
        items=items, next_cursor=encode_cursor(items[-1].external_id) if more else None
    )


def count_by_status(conn: Connection) -> dict[ConnectionStatus, int]:
    counts = dict.fromkeys(ConnectionStatus, 0)
    for status, count in conn.execute(select(_c.status, func.count()).group_by(_c.status)):
        counts[ConnectionStatus(status)] = count
    return counts


def save_connected(
    conn: Connection, ring: KeyRing, external_id: str, tokens: NewTokens, *, now: float
) -> ConnectionRow:
    """Store a new grant for ``external_id`` (creating the row if needed) and queue the event.

    A new grant replaces everything: a missing refresh token is stored as missing (the old one
    belonged to a dead grant). ``last_refresh_at`` is set to ``now`` because the keep-alive
    measures the refresh token's sliding lifetime from the moment the grant was last renewed.
    """
    conn.execute(_insert_placeholder(conn, external_id, now))
    current = conn.execute(
        select(_c.id, _c.status, _c.generation)
        .where(_c.external_id == external_id)
        .with_for_update()
    ).one()
    generation = current.generation + 1
    values = {
        **_NO_GRANT,
        "status": ConnectionStatus.ACTIVE.value,
        "scope": encode_scope(tokens.scope),
        "claims": encode_json(tokens.claims),
        "generation": generation,
        "access_token": seal(ring, tokens.access_token, record_id=current.id, field=ACCESS_TOKEN),
        "access_expires_at": tokens.access_expires_at,
        "refresh_token": seal(
            ring, tokens.refresh_token, record_id=current.id, field=REFRESH_TOKEN
        ),
        "last_refresh_at": now,
        "failure_count": 0,
        "last_error": None,
        "reauth_reason": None,
        "updated_at": now,
    }
    row = conn.execute(
        update(connections).where(_c.id == current.id).values(values).returning(*_c)
    ).one()
    recovered = current.status == ConnectionStatus.REAUTH_REQUIRED.value
    add_event(
        conn,
        event_type=EventType.RECOVERED if recovered else EventType.CONNECTED,
        connection_id=current.id,
        external_id=external_id,
        data={"generation": generation, "scope": list(tokens.scope)},
        now=now,
    )
    return connection_row(ring, row)


def _insert_placeholder(conn: Connection, external_id: str, now: float) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING of an empty row, so the row exists and can be locked.

    The placeholder (status ``disconnected``, generation 0) never outlives the transaction: the
    caller fills it in. Concurrent first connects of one external id thus never collide.
    """
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return (
        dialect_insert(connections)
        .values(
            id=str(uuid.uuid4()),
            external_id=external_id,
            status=ConnectionStatus.DISCONNECTED.value,
            scope="",
            claims="{}",
            generation=0,
            failure_count=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[_c.external_id])
    )


def disconnect(
    conn: Connection, ring: KeyRing, external_id: str, *, now: float
) -> ConnectionRow | None:
    """Drop the tokens and queue the event; returns the row as it was (None if unknown).

    Disconnecting an already disconnected connection changes nothing and queues nothing.
    """
    found = conn.execute(
        select(connections).where(_c.external_id == external_id).with_for_update()
    ).first()
    if found is None:
        return None
    before = connection_row(ring, found)
    if before.status is ConnectionStatus.DISCONNECTED:
        return before
    conn.execute(
        update(connections)
        .where(_c.id == before.id)
        .values(
            {
                **_NO_GRANT,
                "status": ConnectionStatus.DISCONNECTED.value,
                "generation": before.generation + 1,
                "updated_at": now,
            }
        )
    )
    add_event(
        conn,
        event_type=EventType.DISCONNECTED,
        connection_id=before.id,
        external_id=external_id,
        data={"generation": before.generation + 1, "previous_status": before.status.value},
        now=now,
    )
    return before
