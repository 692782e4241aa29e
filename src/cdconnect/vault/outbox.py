"""The durable outbox: events written in the transaction of the change they describe.

Delivery is at-least-once: ``claim`` leases due events by pushing ``next_attempt_at`` forward and
counting the attempt, so a deliverer that crashes mid-way simply lets the lease run out.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from cdconnect.models import EventType
from cdconnect.vault.api import OutboxEvent
from cdconnect.vault.rows import encode_json, outbox_event
from cdconnect.vault.schema import outbox_events

#: Longest error text kept per event (a message, not a dump).
MAX_ERROR_LENGTH = 1000


def add_event(
    conn: Connection,
    *,
    event_type: EventType,
    connection_id: str,
    external_id: str,
    data: Mapping[str, Any],
    now: float,
) -> str:
    """Queue an event (due immediately); returns its id. Callers pass no token values."""
    event_id = str(uuid.uuid4())
    conn.execute(
        insert(outbox_events).values(
            id=event_id,
            type=event_type.value,
            connection_id=connection_id,
            external_id=external_id,
            occurred_at=now,
            data=encode_json(data),
            attempts=0,
            next_attempt_at=now,
        )
    )
    return event_id


def claim(conn: Connection, *, limit: int, now: float, lease_seconds: float) -> list[OutboxEvent]:
    """Lease up to ``limit`` due, undelivered events (oldest first)."""
    c = outbox_events.c
    due = (
        select(c.id)
        .where(c.delivered_at.is_(None), c.next_attempt_at <= now)
        .order_by(c.next_attempt_at, c.occurred_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    leased = conn.execute(
        update(outbox_events)
        .where(c.id.in_(ids), c.delivered_at.is_(None))
        .values(next_attempt_at=now + lease_seconds, attempts=c.attempts + 1)
        .returning(*c)
    )
    events = [outbox_event(row) for row in leased]
    return sorted(events, key=lambda event: (event.occurred_at, event.id))


def mark_delivered(conn: Connection, event_id: str, *, now: float) -> None:
    c = outbox_events.c
    conn.execute(
        update(outbox_events)
        .where(c.id == event_id, c.delivered_at.is_(None))
        .values(delivered_at=now)
    )


def mark_failed(conn: Connection, event_id: str, *, error: str, next_attempt_at: float) -> None:
    c = outbox_events.c
    conn.execute(
        update(outbox_events)
        .where(c.id == event_id, c.delivered_at.is_(None))
        .values(last_error=error[:MAX_ERROR_LENGTH], next_attempt_at=next_attempt_at)
    )
