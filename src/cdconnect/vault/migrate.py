"""Schema migrations, run programmatically (no alembic.ini needed at runtime).

The revisions live inside the package (``cdconnect/vault/migrations``). ``upgrade`` runs them in
one transaction that first takes a lock, so several processes opening a fresh database at once
apply them exactly once: SQLite's ``BEGIN IMMEDIATE`` write lock, or a PostgreSQL transaction
advisory lock. The applied revision is recorded in the ``alembic_version`` table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from cdconnect.errors import StoreError
from cdconnect.vault.engine import Database, translate_errors

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: Arbitrary, fixed id of the PostgreSQL advisory lock that serialises upgrades ("cdconn").
_UPGRADE_LOCK_ID = 0x6364636F6E6E


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """The revision a database is at, and the one this version of the code expects."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config(connection: Connection | None = None) -> Config:
    """An in-memory alembic configuration for the packaged migrations.

    Developers add a revision with
    ``alembic.command.revision(alembic_config(), message=..., rev_id="0002")``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "the packaged migrations have no head revision"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision recorded in ``alembic_version`` (None for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: Database) -> SchemaStatus:
    """Bring the schema to head; refuse a database made by a newer version of cdconnect."""
    head = head_revision()
    with translate_errors(database, "schema migration"), database.writer.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _UPGRADE_LOCK_ID})
        current = current_revision(conn)
        _refuse_unknown(current, database)
        if current != head:
            command.upgrade(alembic_config(conn), "head")
    return SchemaStatus(current=head, head=head)


def check(database: Database) -> SchemaStatus:
    """Raise :class:`StoreError` unless the schema is exactly at head (no migration is run)."""
    with translate_errors(database, "schema check"), database.engine.connect() as conn:
        status = SchemaStatus(current=current_revision(conn), head=head_revision())
    _refuse_unknown(status.current, database)
    if not status.up_to_date:
        raise StoreError(
            f"the database {database.masked_url} is at schema revision {status.current!r}, "
            f"this version of cdconnect needs {status.head!r}: run the migrations "
            "(open the store with migrate=True)"
        )
    return status


def _refuse_unknown(current: str | None, database: Database) -> None:
    if current is None:
        return
    known = {script.revision for script in _scripts().walk_revisions()}
    if current not in known:
        raise StoreError(
            f"the database {database.masked_url} is at schema revision {current!r}, which this "
            f"version of cdconnect does not know (newest known: {head_revision()!r}); it was "
            "migrated by a newer cdconnect: upgrade cdconnect"
        )
