"""Sync and async drivers that carry out the effects a refresh flow yields.

Store effects are the same short synchronous calls in both worlds; the async driver runs them in
a worker thread (``asyncio.to_thread``) so the event loop never blocks on the database. Only the
token request and the sleep differ between the two drivers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from cdconnect.errors import TokenEndpointError
from cdconnect.manager.effects import (
    AcquireLease,
    Effect,
    MarkReauth,
    ReadRow,
    RecordFailure,
    ReleaseLease,
    RenewLease,
    SendRefresh,
    Sleep,
    StoreRotation,
)
from cdconnect.manager.flow import FlowGen, FlowResult
from cdconnect.models import Clock, TokenResponse
from cdconnect.vault.api import ConnectionStore

#: Hook told about every store effect after it ran (events, metrics).
EffectObserver = Callable[[Effect, Any], None]


@dataclass(frozen=True, slots=True)
class StoreEffects:
    """Runs the storage effects of a flow against a ``ConnectionStore``."""

    store: ConnectionStore
    owner: str
    clock: Clock

    def perform(self, effect: Effect) -> Any:
        now = self.clock()
        store = self.store
        match effect:
            case ReadRow(external_id):
                return store.get_connection(external_id)
            case AcquireLease(connection_id, generation, until):
                return store.try_acquire_lease(
                    connection_id, generation=generation, owner=self.owner, until=until, now=now
                )
            case RenewLease(connection_id, until):
                return store.renew_lease(connection_id, owner=self.owner, until=until)
            case ReleaseLease(connection_id):
                return store.release_lease(connection_id, owner=self.owner)
            case StoreRotation(connection_id, _, generation, tokens):
                return store.store_rotation(
                    connection_id, generation=generation, tokens=tokens, now=now
                )
            case RecordFailure(connection_id, error):
                return store.record_failure(connection_id, owner=self.owner, error=error, now=now)
            case MarkReauth(connection_id, _, generation, reason, error):
                return store.mark_reauth_required(
                    connection_id, generation=generation, reason=reason, error=error, now=now
                )
        raise TypeError(f"not a store effect: {effect!r}")


def run_sync(
    flow: FlowGen,
    effects: StoreEffects,
    send_refresh: Callable[[SecretStr], TokenResponse],
    *,
    observe: EffectObserver,
    sleep: Callable[[float], None] = time.sleep,
) -> FlowResult:
    """Drive ``flow`` to completion with blocking I/O."""
    value: Any = None
    error: TokenEndpointError | None = None
    while True:
        try:
            effect = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            result: FlowResult = stop.value
            return result
        value, error = None, None
        if isinstance(effect, SendRefresh):
            try:
                value = send_refresh(effect.refresh_token)
            except TokenEndpointError as exc:
                error = exc
        elif isinstance(effect, Sleep):
            sleep(effect.seconds)
        else:
            value = effects.perform(effect)
        observe(effect, value)


async def run_async(
    flow: FlowGen,
    effects: StoreEffects,
    send_refresh: Callable[[SecretStr], Awaitable[TokenResponse]],
    *,
    observe: EffectObserver,
) -> FlowResult:
    """Drive ``flow`` to completion without blocking the event loop."""
    value: Any = None
    error: TokenEndpointError | None = None
    while True:
        try:
            effect = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            result: FlowResult = stop.value
            return result
        value, error = None, None
        if isinstance(effect, SendRefresh):
            try:
                value = await send_refresh(effect.refresh_token)
            except TokenEndpointError as exc:
                error = exc
        elif isinstance(effect, Sleep):
            await asyncio.sleep(effect.seconds)
        else:
            value = await asyncio.to_thread(effects.perform, effect)
        observe(effect, value)
