"""Database engines for the vault: SQLite (embedded) and PostgreSQL, one SQLAlchemy Core path.

SQLite needs care to be safe with several threads and processes:

* the file (and its directory) is created 0600/0700 *before* SQLite opens it; SQLite gives its
  ``-wal`` and ``-shm`` files the database file's permissions, so they are private too;
* WAL mode (readers never block the writer), ``busy_timeout`` so a writer waits for the lock
  instead of failing with "database is locked", foreign keys on, ``synchronous=FULL`` because a
  committed rotation holds the only copy of a single-use refresh token and must survive a power
  loss;
* the driver's own transaction handling is switched off and we emit ``BEGIN IMMEDIATE`` for
  write transactions: the write lock is taken up front, so two writers serialise instead of
  deadlocking on a read-then-write upgrade.

PostgreSQL uses psycopg 3 with a pre-pinged ``QueuePool``; short READ COMMITTED transactions.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from cdconnect.errors import StoreError

#: Execution option read by the SQLite ``begin`` hook: which BEGIN to emit.
_BEGIN_OPTION = "cdconnect_sqlite_begin"
SQLITE_BUSY_TIMEOUT_MS = 10_000
POSTGRES_CONNECT_TIMEOUT_S = 10

_SQLITE_DRIVERS = {"sqlite", "sqlite+pysqlite"}
_POSTGRES_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg"}


@dataclass(frozen=True, slots=True)
class Database:
    """An engine plus a view of it whose transactions take SQLite's write lock up front."""

    engine: Engine
    #: Same pool; on SQLite its transactions start with ``BEGIN IMMEDIATE``.
    writer: Engine
    #: The URL with its password replaced by ``***``: safe for messages and logs.
    masked_url: str
    #: The URL's password (if any), scrubbed from driver error messages. Never in the repr.
    password: str | None = field(default=None, repr=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def mask_url(url: str | URL) -> str:
    """``url`` with any password hidden; a URL that does not parse is not echoed at all."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<malformed database URL>"


def open_database(url: str) -> Database:
    """Build the engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            "malformed database URL (expected sqlite:///path or postgresql+psycopg://...)"
        ) from None
    masked = mask_url(parsed)
    if parsed.drivername in _SQLITE_DRIVERS:
        engine = _sqlite_engine(parsed, masked)
    elif parsed.drivername in _POSTGRES_DRIVERS:
        engine = _postgres_engine(parsed.set(drivername="postgresql+psycopg"))
    else:
        raise StoreError(
            f"unsupported database URL {masked}: use sqlite:///path or postgresql+psycopg://..."
        )
    writer = engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
    return Database(engine=engine, writer=writer, masked_url=masked, password=parsed.password)


def _postgres_engine(url: URL) -> Engine:
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": POSTGRES_CONNECT_TIMEOUT_S,
            "application_name": "cdconnect",
        },
    )


def _sqlite_engine(url: URL, masked: str) -> Engine:
    path = url.database
    if not path or path == ":memory:" or url.query.get("mode") == "memory":
        raise StoreError(
            "in-memory SQLite is not supported (each pooled connection would see its own "
            "database): use a file, e.g. sqlite:///cdconnect-data/cdconnect.db"
        )
    try:
        _create_private_file(Path(path).expanduser())
    except OSError as exc:
        raise StoreError(f"cannot create the SQLite database {masked}: {exc.strerror}") from None
    engine = create_engine(url.set(database=str(Path(path).expanduser())))
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _create_private_file(path: Path) -> None:
    """Create the database file 0600 (directory 0700) unless it exists; tighten a lax file."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    else:
        os.close(fd)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # isolation_level None: the sqlite3 module stops issuing its own BEGINs; the "begin" hook
    # below decides how each transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch a database to WAL mode, tolerating other processes doing the same at once.

    The switch needs an exclusive lock, and when two connections both hold a shared lock and
    both want it, SQLite answers "database is locked" at once instead of calling the busy
    handler (that wait could deadlock). Back off and retry until the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.025))
            continue
        if mode != "wal":
            raise StoreError(f"SQLite refused WAL mode (journal mode {mode!r}): use a local disk")
        return


def _begin_sqlite_transaction(conn: Connection) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))


@contextmanager
def translate_errors(database: Database, action: str) -> Iterator[None]:
    """Turn driver and pool failures into :class:`StoreError` without SQL parameters or passwords.

    SQLAlchemy's own messages include the statement's parameters (ciphertexts, hashes), so only
    the driver's first line is kept, with the URL password scrubbed out.
    """
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreError(
            f"{action} failed on {database.masked_url}: {_describe(exc, database.password)}"
        ) from None


def _describe(exc: SQLAlchemyError, password: str | None) -> str:
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        origin: BaseException = exc.orig
        lines = str(origin).strip().splitlines()
        text = f"{type(origin).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    else:
        text = type(exc).__name__
    if password:
        text = text.replace(password, "***")
    return text
