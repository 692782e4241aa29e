"""Schema migrations: applied on open, idempotent, recorded, matching the code's metadata."""

from __future__ import annotations

import hashlib
import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pydantic import SecretStr
from sqlalchemy import inspect, text

from cdconnect.errors import StoreError
from cdconnect.vault import KeyRing, SqlStore
from cdconnect.vault.engine import open_database
from cdconnect.vault.migrate import MIGRATIONS_DIR, alembic_config, head_revision, upgrade
from cdconnect.vault.schema import metadata
from tests.vault.helpers import NOW, new_tokens, raw_connection


def _recorded_revisions(database_url: str) -> list[str]:
    with raw_connection(database_url) as conn:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def test_fresh_database_is_upgraded_to_head_and_recorded(
    database_url: str, keyring: KeyRing
) -> None:
    store = SqlStore.open(database_url, keyring)
    try:
        status = store.schema_status()
        assert status.current == status.head == head_revision()
        assert status.up_to_date
        store.ping()
    finally:
        store.close()
    assert _recorded_revisions(database_url) == [head_revision()]


def test_reopening_is_idempotent_and_keeps_data(database_url: str, keyring: KeyRing) -> None:
    first = SqlStore.open(database_url, keyring)
    first.save_connected("cust-1", new_tokens(), now=NOW)
    first.close()
    for migrate in (True, False):
        again = SqlStore.open(database_url, keyring, migrate=migrate)
        try:
            assert again.get_connection("cust-1") is not None
            assert again.upgrade_schema().up_to_date
        finally:
            again.close()
    assert _recorded_revisions(database_url) == [head_revision()]


# SQLite cannot reflect expression indexes; the index check below covers them there.
@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_migrations_match_the_schema_module(store: SqlStore, database_url: str) -> None:
    with raw_connection(database_url) as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_every_index_is_created(store: SqlStore, database_url: str) -> None:
    expected = {index.name for table in metadata.tables.values() for index in table.indexes}
    catalogue = {
        "sqlite": "SELECT name FROM sqlite_master WHERE type = 'index'",
        "postgresql": "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()",
    }[store.dialect]
    with raw_connection(database_url) as conn:
        present = set(conn.execute(text(catalogue)).scalars())
    assert expected <= present
    assert "ix_connections_keepalive" in expected


def test_without_migrate_an_empty_database_is_refused(database_url: str, keyring: KeyRing) -> None:
    with pytest.raises(StoreError, match="run the migrations"):
        SqlStore.open(database_url, keyring, migrate=False)


def test_explicit_upgrade_then_open_without_migrate(database_url: str, keyring: KeyRing) -> None:
    database = open_database(database_url)
    try:
        assert upgrade(database).up_to_date
    finally:
        database.dispose()
    SqlStore.open(database_url, keyring, migrate=False).close()


def test_database_from_a_newer_version_is_refused(store: SqlStore, database_url: str) -> None:
    with raw_connection(database_url) as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    for migrate in (True, False):
        with pytest.raises(StoreError, match="newer cdconnect"):
            SqlStore.open(database_url, store.keyring, migrate=migrate)
    with pytest.raises(StoreError, match="schema revision '9999_future'"):
        store.ping()
    assert not store.schema_status().up_to_date


def test_concurrent_first_opens_migrate_once(database_url: str, keyring: KeyRing) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_and_close() -> None:
        try:
            barrier.wait()
            SqlStore.open(database_url, keyring).close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _recorded_revisions(database_url) == [head_revision()]


def test_migration_files_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "__init__.py").is_file()
    assert (MIGRATIONS_DIR / "__init__.py").is_file()


def test_upgrade_from_the_first_revision_keeps_pending_rows(
    database_url: str, keyring: KeyRing
) -> None:
    database = open_database(database_url)
    try:
        with database.writer.begin() as conn:
            command.upgrade(alembic_config(conn), "0001")
            conn.execute(
                text(
                    "INSERT INTO pending_authorizations (id, state_hash, external_id, "
                    "redirect_uri, scope, issuer, created_at, expires_at) VALUES "
                    "('p1', :hash, 'cust-1', 'https://v/cb', '', 'https://i', :now, :later)"
                ),
                {"hash": hashlib.sha256(b"old-state").hexdigest(), "now": NOW, "later": NOW + 60},
            )
    finally:
        database.dispose()
    assert _recorded_revisions(database_url) == ["0001"]
    store = SqlStore.open(database_url, keyring)
    try:
        assert store.schema_status().current == head_revision() != "0001"
        consumed = store.consume_pending(SecretStr("old-state"), now=NOW)
        assert consumed is not None and consumed.id == "p1"
    finally:
        store.close()


def _pending_columns(database_url: str) -> set[str]:
    with raw_connection(database_url) as conn:
        return {column["name"] for column in inspect(conn).get_columns("pending_authorizations")}


def test_upgrade_from_0002_adds_an_empty_browser_binding(
    database_url: str, keyring: KeyRing
) -> None:
    database = open_database(database_url)
    try:
        with database.writer.begin() as conn:
            command.upgrade(alembic_config(conn), "0002")
            # A connect link opened before the upgrade: it stays unbound, finished as before.
            conn.execute(
                text(
                    "INSERT INTO pending_authorizations (id, state_hash, external_id, "
                    "redirect_uri, scope, issuer, created_at, expires_at, link_hash, "
                    "link_opened_at) VALUES ('p2', :hash, 'cust-2', 'https://v/cb', '', "
                    "'https://i', :now, :later, :link, :now)"
                ),
                {
                    "hash": hashlib.sha256(b"state-0002").hexdigest(),
                    "link": hashlib.sha256(b"link-0002").hexdigest(),
                    "now": NOW,
                    "later": NOW + 60,
                },
            )
    finally:
        database.dispose()
    assert _recorded_revisions(database_url) == ["0002"]
    assert "browser_binding_hash" not in _pending_columns(database_url)
    store = SqlStore.open(database_url, keyring)
    try:
        assert store.schema_status().current == head_revision() == "0003"
        consumed = store.consume_pending(SecretStr("state-0002"), now=NOW)
        assert consumed is not None and consumed.id == "p2"
        assert consumed.browser_binding_hash is None
    finally:
        store.close()
    assert "browser_binding_hash" in _pending_columns(database_url)


def test_0003_downgrades_to_0002_and_upgrades_again(store: SqlStore, database_url: str) -> None:
    with raw_connection(database_url) as conn:
        command.downgrade(alembic_config(conn), "0002")
    assert _recorded_revisions(database_url) == ["0002"]
    assert "browser_binding_hash" not in _pending_columns(database_url)
    assert store.upgrade_schema().up_to_date
    assert "browser_binding_hash" in _pending_columns(database_url)
