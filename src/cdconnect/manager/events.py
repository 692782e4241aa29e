"""Connection events: library callbacks, a log line and a metric for each.

Durable delivery (webhooks) goes through the store's outbox, written in the same transaction as
the status change; this hub is the in-process side.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from cdconnect.metrics import EVENTS
from cdconnect.models import Clock, Event, EventType

log = logging.getLogger("cdconnect.events")

EventCallback = Callable[[Event], None]


class EventHub:
    """Fans events out to registered callbacks; a failing callback never breaks a refresh."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._callbacks: list[EventCallback] = []
        self._guard = threading.Lock()

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Register ``callback``; returns a function that unregisters it."""
        with self._guard:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._guard:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def emit(
        self,
        type_: EventType,
        *,
        external_id: str,
        connection_id: str,
        data: Mapping[str, Any] | None = None,
    ) -> Event:
        event = Event(
            id=str(uuid.uuid4()),
            type=type_,
            external_id=external_id,
            connection_id=connection_id,
            occurred_at=self._clock(),
            data=data or {},
        )
        EVENTS.labels(type=type_.value).inc()
        log.info(
            "%s external_id=%r %s",
            type_.value,
            external_id,
            " ".join(f"{k}={v}" for k, v in sorted(event.data.items())),
        )
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:
                log.exception("event callback %r failed for %s", callback, type_.value)
        return event
