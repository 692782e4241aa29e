"""Database failures become clear StoreErrors that never reveal passwords or SQL parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from cdconnect.errors import StoreError
from cdconnect.vault import KeyRing, SqlStore, mask_url
from cdconnect.vault.engine import open_database
from tests.vault.helpers import NOW, new_tokens, raw_connection, secret

PASSWORD = "Sup3r-Secret-Pw"


def test_unreachable_postgres_is_a_store_error_with_masked_password(keyring: KeyRing) -> None:
    # Port 1 on the loopback: nothing listens, the connection is refused at once.
    url = f"postgresql+psycopg://cdconnect:{PASSWORD}@127.0.0.1:1/cdconnect"
    with pytest.raises(StoreError) as caught:
        SqlStore.open(url, keyring)
    message = str(caught.value)
    assert PASSWORD not in message
    assert "cdconnect:***@127.0.0.1:1" in message
    assert "OperationalError" in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"mysql://root:{PASSWORD}@127.0.0.1/db", "unsupported database URL"),
        ("sqlite://", "in-memory SQLite is not supported"),
        ("sqlite:///:memory:", "in-memory SQLite is not supported"),
        (f"{PASSWORD} is not a URL", "malformed database URL"),
    ],
)
def test_unusable_urls_are_refused_clearly(url: str, expected: str, keyring: KeyRing) -> None:
    with pytest.raises(StoreError, match=expected) as caught:
        SqlStore.open(url, keyring)
    assert PASSWORD not in str(caught.value)


def test_sqlite_path_that_cannot_be_created(tmp_path: Path, keyring: KeyRing) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot create the SQLite database"):
        SqlStore.open(f"sqlite:///{blocker}/vault.db", keyring)


def test_database_repr_hides_the_password() -> None:
    database = open_database(f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:1/db")
    try:
        assert PASSWORD not in repr(database)
        assert PASSWORD not in repr(SqlStore(database, KeyRing.generate()))
    finally:
        database.dispose()


def test_mask_url() -> None:
    assert mask_url(f"postgresql+psycopg://u:{PASSWORD}@h/db") == "postgresql+psycopg://u:***@h/db"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"
    assert PASSWORD not in mask_url(f"::{PASSWORD}::")


def test_failing_statement_is_a_store_error_without_parameters(
    store: SqlStore, database_url: str
) -> None:
    with raw_connection(database_url) as conn:
        conn.execute(text("DROP TABLE outbox_events"))
        conn.execute(text("DROP TABLE connections"))
    tokens = new_tokens()
    with pytest.raises(StoreError) as caught:
        store.save_connected("cust-secretive", tokens, now=NOW)
    message = str(caught.value)
    assert "saving a connection failed" in message
    assert "connections" in message
    assert "parameters" not in message
    assert "cust-secretive" not in message
    access = secret(tokens.access_token)
    assert access is not None and access not in message
    with pytest.raises(StoreError, match="reading a connection failed"):
        store.get_connection("cust-1")
