"""The refresh lease and the fenced writes (DESIGN §4.3-4.7).

Every decision is one conditional UPDATE whose row count is the answer, so the database, not the
caller, arbitrates races: on PostgreSQL the row lock plus READ COMMITTED's re-check of the WHERE
clause on the latest row version, on SQLite the single writer lock.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, or_, select, update
from sqlalchemy.engine import Connection

from cdconnect.models import ConnectionStatus, EventType
from cdconnect.vault.api import ConnectionRow, NewTokens
from cdconnect.vault.crypto import KeyRing
from cdconnect.vault.outbox import MAX_ERROR_LENGTH, add_event
from cdconnect.vault.rows import (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    connection_row,
    encode_json,
    encode_scope,
    seal,
)
from cdconnect.vault.schema import connections, keepalive_anchor

_c = connections.c

#: Keep-alive backs off a connection whose refreshes keep failing (transiently: dead grants leave
#: ``active`` at once): after n failures in a row it is retried no sooner than n minutes after
#: the last one, so a struggling connection cannot crowd out the healthy ones every cycle.
KEEPALIVE_FAILURE_BACKOFF = 60.0
_ACTIVE = ConnectionStatus.ACTIVE.value


def _lease_is_free(now: float) -> ColumnElement[bool]:
    return or_(_c.lease_owner.is_(None), _c.lease_until <= now)


def try_acquire(
    conn: Connection, connection_id: str, *, generation: int, owner: str, until: float, now: float
) -> bool:
    """Lease an active connection iff its generation is unchanged and the lease is free/expired.

    The current holder may re-acquire (extend) its own lease.
    """
    result = conn.execute(
        update(connections)
        .where(
            _c.id == connection_id,
            _c.generation == generation,
            _c.status == _ACTIVE,
            or_(_lease_is_free(now), _c.lease_owner == owner),
        )
        .values(lease_owner=owner, lease_until=until)
    )
    return result.rowcount == 1


def renew(conn: Connection, connection_id: str, *, owner: str, until: float) -> bool:
    result = conn.execute(
        update(connections)
        .where(_c.id == connection_id, _c.lease_owner == owner)
        .values(lease_until=until)
    )
    return result.rowcount == 1


def release(conn: Connection, connection_id: str, *, owner: str) -> None:
    conn.execute(
        update(connections)
        .where(_c.id == connection_id, _c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def store_rotation(
    conn: Connection,
    ring: KeyRing,
    connection_id: str,
    *,
    generation: int,
    tokens: NewTokens,
    now: float,
) -> bool:
    """The fenced write: new tokens iff nobody rotated since ``generation`` (lease not checked)."""
    values = {
        "access_token": seal(
            ring, tokens.access_token, record_id=connection_id, field=ACCESS_TOKEN
        ),
        "access_expires_at": tokens.access_expires_at,
        "scope": encode_scope(tokens.scope),
        "claims": encode_json(tokens.claims),
        "generation": generation + 1,
        "lease_owner": None,
        "lease_until": None,
        "failure_count": 0,
        "last_error": None,
        "last_refresh_at": now,
        "updated_at": now,
    }
    if tokens.refresh_token is not None:
        values["refresh_token"] = seal(
            ring, tokens.refresh_token, record_id=connection_id, field=REFRESH_TOKEN
        )
    result = conn.execute(
        update(connections)
        .where(_c.id == connection_id, _c.generation == generation)
        .values(values)
    )
    return result.rowcount == 1


def record_failure(
    conn: Connection, connection_id: str, *, owner: str, error: str, now: float, release: bool
) -> None:
    values: dict[str, object] = {
        "failure_count": _c.failure_count + 1,
        "last_error": error[:MAX_ERROR_LENGTH],
        "updated_at": now,
    }
    if release:
        ours = _c.lease_owner == owner
        values["lease_owner"] = case((ours, None), else_=_c.lease_owner)
        values["lease_until"] = case((ours, None), else_=_c.lease_until)
    conn.execute(update(connections).where(_c.id == connection_id).values(values))


def mark_reauth_required(
    conn: Connection,
    connection_id: str,
    *,
    generation: int,
    reason: str,
    error: str | None,
    now: float,
) -> bool:
    """``reauth_required`` iff the connection is still active at ``generation``; queues the event.

    False when the generation moved (someone rotated: adopt their token) or the connection is
    no longer active (already marked, or disconnected): no second event is queued.
    """
    marked = conn.execute(
        update(connections)
        .where(_c.id == connection_id, _c.generation == generation, _c.status == _ACTIVE)
        .values(
            status=ConnectionStatus.REAUTH_REQUIRED.value,
            reauth_reason=reason,
            last_error=None if error is None else error[:MAX_ERROR_LENGTH],
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )
        .returning(_c.external_id)
    ).first()
    if marked is None:
        return False
    add_event(
        conn,
        event_type=EventType.REAUTH_REQUIRED,
        connection_id=connection_id,
        external_id=marked.external_id,
        data={"reason": reason, "generation": generation},
        now=now,
    )
    return True


def claim_due_for_keepalive(
    conn: Connection,
    ring: KeyRing,
    *,
    owner: str,
    lease_until: float,
    refreshed_before: float,
    access_expiring_before: float | None,
    limit: int,
    now: float,
) -> list[ConnectionRow]:
    """Pick due, unleased, refreshable active connections and lease them in one transaction.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets concurrent workers pick disjoint rows; SQLite:
    the transaction holds the write lock from its first statement.
    """
    due = keepalive_anchor < refreshed_before
    if access_expiring_before is not None:
        due = or_(due, _c.access_expires_at < access_expiring_before)
    backed_off = or_(
        _c.failure_count == 0,
        _c.updated_at + _c.failure_count * KEEPALIVE_FAILURE_BACKOFF <= now,
    )
    pick = (
        select(_c.id)
        .where(
            _c.status == _ACTIVE,
            _c.refresh_token.is_not(None),
            _lease_is_free(now),
            due,
            backed_off,
        )
        .order_by(keepalive_anchor, _c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(pick).scalars())
    if not ids:
        return []
    leased = conn.execute(
        update(connections)
        .where(_c.id.in_(ids), _lease_is_free(now))
        .values(lease_owner=owner, lease_until=lease_until)
        .returning(*_c)
    )
    return [connection_row(ring, row) for row in leased]
