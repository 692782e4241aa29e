"""``ConnectionManager``: the library API over the vault and the protocol layer."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from pydantic import SecretStr

from cdconnect.errors import (
    CDConnectError,
    ConnectionNotFound,
    ReauthorizationRequired,
)
from cdconnect.manager.auth import CDConnectAuth
from cdconnect.manager.cache import AsyncKeyedLocks, KeyedLocks, TokenCache
from cdconnect.manager.client_tokens import ClientTokens
from cdconnect.manager.connect import (
    ConnectFlow,
    ConnectResult,
    ConnectSession,
    ConnectStart,
    OpenedConnect,
)
from cdconnect.manager.drivers import StoreEffects, run_async, run_sync
from cdconnect.manager.effects import Effect, MarkReauth, Sleep, StoreRotation
from cdconnect.manager.endpoint import TokenEndpoint
from cdconnect.manager.events import EventCallback, EventHub
from cdconnect.manager.flow import (
    MIN_USEFUL_SECONDS,
    FlowGen,
    FlowResult,
    RefreshPolicy,
    keepalive_flow,
    refresh_flow,
)
from cdconnect.manager.inputs import check_external_id
from cdconnect.manager.keepalive import KeepAliveSummary, run_keepalive_cycle
from cdconnect.metrics import LEASE_WAITS, REFRESH_SECONDS, REFRESHES
from cdconnect.models import (
    AccessToken,
    Clock,
    Connection,
    ConnectionStatus,
    EventType,
)
from cdconnect.oauth import (
    build_async_http_client,
    build_http_client,
)
from cdconnect.settings import Settings
from cdconnect.vault.api import ConnectionPage, ConnectionRow, ConnectionStore

log = logging.getLogger("cdconnect.manager")


@contextlib.contextmanager
def _held(lock: threading.Lock) -> Iterator[None]:
    """Release an already acquired lock at the end of the block."""
    try:
        yield
    finally:
        lock.release()


def _probe(check: Callable[[], object]) -> str:
    try:
        check()
    except CDConnectError as exc:
        log.warning("readiness check failed: %s", exc)
        return exc.code
    return "ok"


def default_owner() -> str:
    """A lease owner id unique to this manager instance (host, pid, random)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ConnectionManager:
    """Connect customers, hand out their access tokens, keep them alive.

    Thread-safe. One instance per process is the intended use; several instances (or processes,
    or hosts) on one database cooperate through the store's leases and generation fence.
    """

    def __init__(
        self,
        settings: Settings,
        store: ConnectionStore,
        *,
        http: httpx.Client | None = None,
        async_http: Callable[[], httpx.AsyncClient] | None = None,
        clock: Clock = time.time,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self._clock = clock
        self._owner = owner or default_owner()
        self._http = http or build_http_client(settings)
        self._owns_http = http is None
        self._endpoint = TokenEndpoint(
            settings,
            self._http,
            async_http or (lambda: build_async_http_client(settings)),
            clock,
        )
        self._cache = TokenCache()
        self._locks = KeyedLocks()
        self._alocks = AsyncKeyedLocks()
        self._events = EventHub(clock)
        self._effects = StoreEffects(store, self._owner, clock)
        self._connect = ConnectFlow(settings, store, self._endpoint.send, clock)
        self._policy = RefreshPolicy(
            margin=settings.refresh_margin,
            lease_seconds=settings.lease_seconds,
            wait_budget=settings.lease_seconds * 2,
        )
        self._client_tokens = ClientTokens(self._endpoint, clock, settings.refresh_margin)

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def owner(self) -> str:
        return self._owner

    def close(self) -> None:
        if self._owns_http:
            self._http.close()
        self.store.close()

    async def aclose(self) -> None:
        """Close this event loop's async HTTP client, then everything ``close`` closes."""
        await self._endpoint.aclose()
        self.close()

    def __enter__(self) -> ConnectionManager:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` on every connection event in this process."""
        return self._events.subscribe(callback)

    # -- connecting -----------------------------------------------------------------------------
    def begin_connect(
        self,
        external_id: str,
        *,
        return_url: str | None = None,
        scope: tuple[str, ...] | None = None,
    ) -> ConnectStart:
        """Create a pending authorization; send the customer's browser to ``authorize_url``."""
        return self._connect.begin(external_id, return_url=return_url, scope=scope)

    def create_connect_session(
        self,
        external_id: str,
        *,
        return_url: str | None = None,
        scope: tuple[str, ...] | None = None,
    ) -> ConnectSession:
        """A single-use, short-lived connect link id (the service's ``/connect/{link}``)."""
        return self._connect.begin_session(external_id, return_url=return_url, scope=scope)

    def open_connect_session(self, link: str) -> OpenedConnect:
        """Spend a connect link, binding its pending authorization to the opening browser.

        Redirect the browser to ``authorize_url`` and give it ``browser_secret`` (the service
        sets a cookie); ``complete_connect`` requires that secret back.
        """
        return self._connect.open_session(link)

    def complete_connect(
        self, callback: str, *, browser_secret: str | None = None
    ) -> ConnectResult:
        """Finish a connect from the callback URL (or its query string) CD redirected to.

        ``browser_secret``: what ``open_connect_session`` gave the browser. Required (and
        compared) when the connect was started from a connect link; ``BrowserMismatch`` when
        missing or different. Connects from ``begin_connect`` are not bound and ignore it.
        """
        result, row, _ = self._connect.complete(callback, browser_secret=browser_secret)
        token = AccessToken(
            access_token=row.access_token or SecretStr(""),
            expires_at=row.access_expires_at or 0.0,
            scope=row.scope,
            external_id=row.external_id,
            generation=row.generation,
        )
        self._cache.evict(row.external_id)
        self._cache.put(row.external_id, token, token.expires_at - self._policy.margin)
        kind = EventType.RECOVERED if result.recovered else EventType.CONNECTED
        self._events.emit(
            kind,
            external_id=row.external_id,
            connection_id=row.id,
            data={"generation": row.generation, "scope": " ".join(row.scope)},
        )
        return result

    # -- tokens ---------------------------------------------------------------------------------
    def access_token(self, external_id: str) -> AccessToken:
        """A valid access token for the customer, refreshed (once, fleet-wide) when needed."""
        token = self._cache.fresh(external_id, self._clock())
        if token is not None:
            return token
        return self._resolve(external_id, force=False, newer_than=None)

    async def aaccess_token(self, external_id: str) -> AccessToken:
        """Async ``access_token``; a cache hit does no I/O and no thread hop."""
        token = self._cache.fresh(external_id, self._clock())
        if token is not None:
            return token
        return await self._aresolve(external_id, force=False, newer_than=None)

    def refresh(
        self, external_id: str, *, force: bool = False, newer_than: int | None = None
    ) -> AccessToken:
        """Refresh if needed (or always, with ``force``) and return the resulting token.

        With ``newer_than`` (the generation of a token the API just rejected), a rotation done
        meanwhile by anyone satisfies the request instead of spending another refresh token.
        """
        return self._resolve(external_id, force=force, newer_than=newer_than)

    async def arefresh(
        self, external_id: str, *, force: bool = False, newer_than: int | None = None
    ) -> AccessToken:
        return await self._aresolve(external_id, force=force, newer_than=newer_than)

    def _cached_answer(
        self, external_id: str, force: bool, newer_than: int | None
    ) -> AccessToken | None:
        """After waiting for the in-process flight: is the cached token now good enough?"""
        now = self._clock()
        token = self._cache.fresh(external_id, now)
        if token is None:
            return None
        if not force:
            return token
        if newer_than is not None and (token.generation or 0) > newer_than:
            return token
        return None

    def _served_while_refreshing(self, external_id: str, force: bool) -> AccessToken | None:
        """Another caller of this process is refreshing: is the token we have still valid?

        Refresh early, degrade late: such callers get the current token at once instead of
        queueing behind the refresh's HTTP call.
        """
        entry = self._cache.get(external_id)
        if force or entry is None:
            return None
        if entry.token.expires_at - MIN_USEFUL_SECONDS > self._clock():
            return entry.token
        return None

    def _resolve(self, external_id: str, *, force: bool, newer_than: int | None) -> AccessToken:
        check_external_id(external_id)
        lock = self._locks(external_id)
        if not lock.acquire(blocking=False):
            current = self._served_while_refreshing(external_id, force)
            if current is not None:
                return current
            lock.acquire()
        with _held(lock):
            cached = self._cached_answer(external_id, force, newer_than)
            if cached is not None:
                return cached
            return self._drive(external_id, self._flow(external_id, force, newer_than)).token

    async def _aresolve(
        self, external_id: str, *, force: bool, newer_than: int | None
    ) -> AccessToken:
        check_external_id(external_id)
        lock = self._alocks(external_id)
        if lock.locked():
            current = self._served_while_refreshing(external_id, force)
            if current is not None:
                return current
        async with lock:
            cached = self._cached_answer(external_id, force, newer_than)
            if cached is not None:
                return cached
            flow = self._flow(external_id, force, newer_than)
            return (await self._adrive(external_id, flow)).token

    def _flow(self, external_id: str, force: bool, newer_than: int | None) -> FlowGen:
        return refresh_flow(
            external_id, clock=self._clock, policy=self._policy, force=force, newer_than=newer_than
        )

    def _drive(self, external_id: str, flow: FlowGen) -> FlowResult:
        """Run a flow with blocking I/O; account for its outcome (cache, metrics)."""
        started = time.perf_counter()
        try:
            result = run_sync(flow, self._effects, self._endpoint.refresh, observe=self._observe)
        except BaseException as exc:
            self._failed(external_id, exc)
            raise
        return self._succeeded(external_id, result, started)

    async def _adrive(self, external_id: str, flow: FlowGen) -> FlowResult:
        """Run a flow without blocking the event loop; account for its outcome."""
        started = time.perf_counter()
        try:
            result = await run_async(
                flow, self._effects, self._endpoint.arefresh, observe=self._observe
            )
        except BaseException as exc:
            self._failed(external_id, exc)
            raise
        return self._succeeded(external_id, result, started)

    def _succeeded(self, external_id: str, result: FlowResult, started: float) -> FlowResult:
        self._cache.put(external_id, result.token, result.refresh_at)
        REFRESHES.labels(outcome=result.outcome.value).inc()
        REFRESH_SECONDS.observe(time.perf_counter() - started)
        return result

    def _failed(self, external_id: str, exc: BaseException) -> None:
        if isinstance(exc, ReauthorizationRequired | ConnectionNotFound):
            self._cache.evict(external_id)
            REFRESHES.labels(
                outcome="reauth_required"
                if isinstance(exc, ReauthorizationRequired)
                else "not_found"
            ).inc()
        else:
            REFRESHES.labels(outcome="failed").inc()

    def _observe(self, effect: Effect, value: Any) -> None:
        """Turn store effects that changed a connection's state into events and metrics."""
        if isinstance(effect, Sleep):
            LEASE_WAITS.inc()
        elif isinstance(effect, StoreRotation) and value:
            self._events.emit(
                EventType.REFRESHED,
                external_id=effect.external_id,
                connection_id=effect.connection_id,
                data={"generation": effect.generation + 1},
            )
        elif isinstance(effect, MarkReauth) and value:
            self._cache.evict(effect.external_id)
            self._events.emit(
                EventType.REAUTH_REQUIRED,
                external_id=effect.external_id,
                connection_id=effect.connection_id,
                data={"reason": effect.reason},
            )

    # -- connections ----------------------------------------------------------------------------
    def get_connection(self, external_id: str) -> Connection:
        row = self.store.get_connection(check_external_id(external_id))
        if row is None:
            raise ConnectionNotFound(f"no connection for external id {external_id!r}")
        return row.public()

    def list_connections(
        self,
        *,
        status: ConnectionStatus | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> ConnectionPage:
        return self.store.list_connections(status=status, limit=limit, cursor=cursor)

    def check_ready(self) -> dict[str, str]:
        """Readiness probes: ``{"database": ..., "key_ring": ...}``, each ``"ok"`` or an error code.

        The database must answer with the current schema; the key ring must decrypt a stored
        connection (when there is one), proving the configured keys match the data.
        """
        checks = {"database": _probe(self.store.ping)}
        if checks["database"] == "ok":
            checks["key_ring"] = _probe(self._decrypt_one)
        return checks

    def _decrypt_one(self) -> None:
        for item in self.store.list_connections(status=ConnectionStatus.ACTIVE, limit=1).items:
            self.store.get_connection(item.external_id)

    def count_by_status(self) -> dict[ConnectionStatus, int]:
        return dict(self.store.count_by_status())

    def disconnect(self, external_id: str) -> Connection:
        """Forget the customer's tokens (revoking the grant at CD when a revocation URL is set)."""
        before = self.store.disconnect(check_external_id(external_id), now=self._clock())
        if before is None:
            raise ConnectionNotFound(f"no connection for external id {external_id!r}")
        self._cache.evict(external_id)
        if before.refresh_token is not None:
            self._endpoint.revoke_refresh_token(before.refresh_token)
        self._events.emit(
            EventType.DISCONNECTED,
            external_id=external_id,
            connection_id=before.id,
            data={"generation": before.generation + 1},
        )
        return self.get_connection(external_id)

    # -- client credentials ---------------------------------------------------------------------
    def client_token(self) -> AccessToken:
        """A client-credentials token for the integrator itself (cached, single flight)."""
        return self._client_tokens.get()

    async def aclient_token(self) -> AccessToken:
        return await self._client_tokens.aget()

    # -- keys -------------------------------------------------------------------------------------
    @property
    def encryption_key_id(self) -> str:
        """The key id new tokens are encrypted under (the first key of the ring)."""
        return self.store.primary_key_id

    def reencrypt_all(
        self, *, batch: int = 200, on_progress: Callable[[int], None] | None = None
    ) -> int:
        """Re-encrypt every connection under the newest key; resumable, returns rows rewritten.

        Safe to interrupt and run again: each batch commits on its own and rows already under
        the newest key are skipped.
        """
        total, after = 0, None
        while True:
            count, after = self.store.reencrypt_batch(after_id=after, limit=batch)
            total += count
            if on_progress is not None:
                on_progress(total)
            if after is None:
                return total

    # -- keep-alive ---------------------------------------------------------------------------
    def keepalive_once(
        self,
        *,
        interval: float | None = None,
        access_window: float | None = None,
        batch: int = 500,
        concurrency: int = 16,
    ) -> KeepAliveSummary:
        """Refresh the connections due for keep-alive, once (see ``cdconnect worker``)."""
        return run_keepalive_cycle(
            self,
            interval=self.settings.keepalive_interval if interval is None else interval,
            access_window=access_window,
            batch=batch,
            concurrency=concurrency,
        )

    def _rotate_claimed(self, row: ConnectionRow) -> FlowResult:
        """Rotate a connection this manager already holds the lease on (keep-alive)."""
        return self._drive(
            row.external_id, keepalive_flow(row, clock=self._clock, policy=self._policy)
        )

    # -- httpx integration --------------------------------------------------------------------
    def auth(self, external_id: str) -> CDConnectAuth:
        """An ``httpx.Auth`` for ``external_id`` (sync and async clients alike)."""
        return CDConnectAuth(self, check_external_id(external_id))
