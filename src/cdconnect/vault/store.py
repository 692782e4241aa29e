"""``SqlStore``: the :class:`~cdconnect.vault.api.ConnectionStore` on SQLite and PostgreSQL.

One SQLAlchemy Core code path for both databases. Every public method is exactly one short
transaction on a pooled connection that goes back to the pool before the method returns; write
transactions take SQLite's write lock up front (see ``engine``). Database failures surface as
:class:`~cdconnect.errors.StoreError` with the URL's password masked.

Open a store per process (after any fork): pooled connections must not cross a fork.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pydantic import SecretStr
from sqlalchemy.engine import Connection

from cdconnect.errors import InvalidInput, StoreError
from cdconnect.models import ConnectionStatus
from cdconnect.vault import connections, leases, maintenance, outbox, pending
from cdconnect.vault.api import (
    ConnectionPage,
    ConnectionRow,
    NewTokens,
    OpenedLink,
    OutboxEvent,
    PendingAuthorization,
)
from cdconnect.vault.crypto import KeyRing
from cdconnect.vault.engine import Database, open_database, translate_errors
from cdconnect.vault.migrate import SchemaStatus, check, head_revision, upgrade


class SqlStore:
    """Encrypted connection storage. Thread-safe; one instance per process is plenty."""

    def __init__(self, database: Database, keyring: KeyRing) -> None:
        self._db = database
        self._ring = keyring

    @classmethod
    def open(cls, database_url: str, keyring: KeyRing, *, migrate: bool = True) -> SqlStore:
        """Connect to ``database_url``; bring the schema to head (``migrate``) or require it."""
        database = open_database(database_url)
        try:
            with translate_errors(database, "connecting"), database.engine.connect():
                pass  # fail with a plain "connecting failed" before any schema work
            upgrade(database) if migrate else check(database)
        except BaseException:
            database.dispose()
            raise
        return cls(database, keyring)

    def __repr__(self) -> str:
        return f"SqlStore({self._db.masked_url!r}, {self._ring!r})"

    @property
    def url(self) -> str:
        """The database URL with its password masked."""
        return self._db.masked_url

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect

    @property
    def keyring(self) -> KeyRing:
        return self._ring

    @property
    def primary_key_id(self) -> str:
        """The id of the key new ciphertexts are sealed with."""
        return self._ring.primary_kid

    def upgrade_schema(self) -> SchemaStatus:
        """Apply pending migrations (what ``open`` does by default)."""
        return upgrade(self._db)

    def schema_status(self) -> SchemaStatus:
        """Current and expected revision (raises only when the database cannot be read)."""
        with self._read("schema status") as conn:
            return SchemaStatus(current=maintenance.current_revision(conn), head=head_revision())

    # -- transactions ---------------------------------------------------------------------------
    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        with translate_errors(self._db, action), self._db.engine.begin() as conn:
            yield conn

    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        with translate_errors(self._db, action), self._db.writer.begin() as conn:
            yield conn

    # -- connections ----------------------------------------------------------------------------
    def get_connection(self, external_id: str) -> ConnectionRow | None:
        with self._read("reading a connection") as conn:
            return connections.get(conn, self._ring, external_id)

    def list_connections(
        self, *, status: ConnectionStatus | None = None, limit: int = 100, cursor: str | None = None
    ) -> ConnectionPage:
        """A page ordered by external id. ``InvalidInput`` for a cursor we did not make."""
        with self._read("listing connections") as conn:
            return connections.list_page(conn, status=status, limit=limit, cursor=cursor)

    def save_connected(self, external_id: str, tokens: NewTokens, *, now: float) -> ConnectionRow:
        with self._write("saving a connection") as conn:
            return connections.save_connected(conn, self._ring, external_id, tokens, now=now)

    def try_acquire_lease(
        self, connection_id: str, *, generation: int, owner: str, until: float, now: float
    ) -> bool:
        with self._write("acquiring a lease") as conn:
            return leases.try_acquire(
                conn, connection_id, generation=generation, owner=owner, until=until, now=now
            )

    def renew_lease(self, connection_id: str, *, owner: str, until: float) -> bool:
        with self._write("renewing a lease") as conn:
            return leases.renew(conn, connection_id, owner=owner, until=until)

    def release_lease(self, connection_id: str, *, owner: str) -> None:
        with self._write("releasing a lease") as conn:
            leases.release(conn, connection_id, owner=owner)

    def store_rotation(
        self, connection_id: str, *, generation: int, tokens: NewTokens, now: float
    ) -> bool:
        with self._write("storing a rotation") as conn:
            return leases.store_rotation(
                conn, self._ring, connection_id, generation=generation, tokens=tokens, now=now
            )

    def record_failure(
        self, connection_id: str, *, owner: str, error: str, now: float, release: bool = True
    ) -> None:
        with self._write("recording a failure") as conn:
            leases.record_failure(
                conn, connection_id, owner=owner, error=error, now=now, release=release
            )

    def mark_reauth_required(
        self, connection_id: str, *, generation: int, reason: str, error: str | None, now: float
    ) -> bool:
        with self._write("marking a connection for re-authorization") as conn:
            return leases.mark_reauth_required(
                conn, connection_id, generation=generation, reason=reason, error=error, now=now
            )

    def disconnect(self, external_id: str, *, now: float) -> ConnectionRow | None:
        with self._write("disconnecting") as conn:
            return connections.disconnect(conn, self._ring, external_id, now=now)

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
        with self._write("claiming keep-alive work") as conn:
            return leases.claim_due_for_keepalive(
                conn,
                self._ring,
                owner=owner,
                lease_until=lease_until,
                refreshed_before=refreshed_before,
                access_expiring_before=access_expiring_before,
                limit=limit,
                now=now,
            )

    # -- pending authorizations -------------------------------------------------------------------
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
        with self._write("storing a pending authorization") as conn:
            return pending.create(
                conn,
                self._ring,
                state=state,
                external_id=external_id,
                redirect_uri=redirect_uri,
                scope=scope,
                issuer=issuer,
                code_verifier=code_verifier,
                return_url=return_url,
                now=now,
                expires_at=expires_at,
            )

    def consume_pending(self, state: SecretStr, *, now: float) -> PendingAuthorization | None:
        with self._write("consuming a pending authorization") as conn:
            return pending.consume(conn, self._ring, state, now=now)

    def attach_connect_link(
        self, pending_id: str, *, link: SecretStr, authorize_url: SecretStr
    ) -> None:
        with self._write("attaching a connect link") as conn:
            pending.attach_link(
                conn, self._ring, pending_id, link=link, authorize_url=authorize_url
            )

    def open_connect_link(
        self, link: SecretStr, *, browser_secret: SecretStr, now: float
    ) -> OpenedLink | None:
        with self._write("opening a connect link") as conn:
            return pending.open_link(conn, self._ring, link, browser_secret=browser_secret, now=now)

    # -- outbox -----------------------------------------------------------------------------------
    def claim_events(self, *, limit: int, now: float, lease_seconds: float) -> list[OutboxEvent]:
        """Due events, leased for ``lease_seconds``; ``attempts`` counts claims (this one too)."""
        with self._write("claiming events") as conn:
            return outbox.claim(conn, limit=limit, now=now, lease_seconds=lease_seconds)

    def mark_event_delivered(self, event_id: str, *, now: float) -> None:
        with self._write("marking an event delivered") as conn:
            outbox.mark_delivered(conn, event_id, now=now)

    def mark_event_failed(
        self, event_id: str, *, error: str, next_attempt_at: float, now: float
    ) -> None:
        del now  # part of the contract; the retry time is the caller's decision
        with self._write("marking an event failed") as conn:
            outbox.mark_failed(conn, event_id, error=error, next_attempt_at=next_attempt_at)

    # -- operations -------------------------------------------------------------------------------
    def ping(self) -> None:
        with self._read("health check") as conn:
            current = maintenance.current_revision(conn)
        head = head_revision()
        if current != head:
            raise StoreError(
                f"the database {self._db.masked_url} is at schema revision {current!r}, "
                f"expected {head!r}"
            )

    def count_by_status(self) -> Mapping[ConnectionStatus, int]:
        with self._read("counting connections") as conn:
            return connections.count_by_status(conn)

    def reencrypt_batch(self, *, after_id: str | None, limit: int) -> tuple[int, str | None]:
        if limit < 1:
            raise InvalidInput("limit must be at least 1")
        with self._write("re-encrypting") as conn:
            return maintenance.reencrypt_batch(conn, self._ring, after_id=after_id, limit=limit)

    def close(self) -> None:
        """Close the pooled connections. The store can still be used (it reconnects)."""
        self._db.dispose()
