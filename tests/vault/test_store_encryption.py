"""Tokens at rest: bound to their row and field, key rotation, nothing in plaintext on disk."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from cdconnect.errors import DecryptionError, InvalidInput
from cdconnect.vault import KeyRing, SqlStore
from cdconnect.vault.schema import connections
from tests.fixtures.databases import sqlite_url
from tests.vault.helpers import NOW, new_tokens, raw_connection, secret


def _blobs(database_url: str, external_id: str) -> tuple[bytes, bytes]:
    with raw_connection(database_url) as conn:
        row = conn.execute(
            select(connections.c.access_token, connections.c.refresh_token).where(
                connections.c.external_id == external_id
            )
        ).one()
    return bytes(row.access_token), bytes(row.refresh_token)


def _set_blobs(database_url: str, external_id: str, access: bytes, refresh: bytes) -> None:
    with raw_connection(database_url) as conn:
        conn.execute(
            update(connections)
            .where(connections.c.external_id == external_id)
            .values(access_token=access, refresh_token=refresh)
        )


def test_ciphertext_swapped_between_rows_fails(store: SqlStore, database_url: str) -> None:
    store.save_connected("a", new_tokens("a"), now=NOW)
    store.save_connected("b", new_tokens("b"), now=NOW)
    a_access, a_refresh = _blobs(database_url, "a")
    b_access, b_refresh = _blobs(database_url, "b")
    _set_blobs(database_url, "a", a_access, b_refresh)
    with pytest.raises(DecryptionError) as caught:
        store.get_connection("a")
    assert "refresh_token" in str(caught.value)
    assert "REFRESH-" not in str(caught.value)
    # Untouched rows still read fine.
    assert store.get_connection("b") is not None
    _set_blobs(database_url, "a", b_access, a_refresh)
    with pytest.raises(DecryptionError):
        store.get_connection("a")


def test_ciphertext_swapped_between_fields_fails(store: SqlStore, database_url: str) -> None:
    store.save_connected("a", new_tokens("a"), now=NOW)
    access, refresh = _blobs(database_url, "a")
    _set_blobs(database_url, "a", refresh, access)
    with pytest.raises(DecryptionError):
        store.get_connection("a")


def test_wrong_key_fails(store: SqlStore, database_url: str) -> None:
    store.save_connected("a", new_tokens(), now=NOW)
    stranger = SqlStore.open(database_url, KeyRing.generate("test1"))
    try:
        with pytest.raises(DecryptionError, match="wrong key"):
            stranger.get_connection("a")
    finally:
        stranger.close()


def test_new_primary_key_encrypts_and_old_key_still_decrypts(
    store: SqlStore, database_url: str, keyring: KeyRing
) -> None:
    old_tokens = new_tokens("old")
    store.save_connected("old", old_tokens, now=NOW)
    rotated = SqlStore.open(database_url, keyring.with_new_primary("test2"))
    try:
        read = rotated.get_connection("old")
        assert read is not None
        assert secret(read.refresh_token) == secret(old_tokens.refresh_token)
        rotated.save_connected("new", new_tokens("new"), now=NOW)
    finally:
        rotated.close()
    assert {KeyRing.key_id_of(blob) for blob in _blobs(database_url, "old")} == {"test1"}
    assert {KeyRing.key_id_of(blob) for blob in _blobs(database_url, "new")} == {"test2"}


def test_reencrypt_batch_rewrites_under_the_new_key_and_resumes(
    store: SqlStore, database_url: str, keyring: KeyRing
) -> None:
    saved = {f"c{i}": new_tokens(f"c{i}") for i in range(5)}
    for external_id, tokens in saved.items():
        store.save_connected(external_id, tokens, now=NOW)
    store.save_connected("no-refresh", new_tokens(refresh=False), now=NOW)
    store.disconnect("c4", now=NOW)  # no tokens left to re-encrypt
    both = keyring.with_new_primary("test2")

    first = SqlStore.open(database_url, both)
    try:
        rewritten, cursor = first.reencrypt_batch(after_id=None, limit=2)
    finally:
        first.close()
    # Ids are random: the first two rows may include the disconnected one (nothing to do).
    assert rewritten in (1, 2)
    assert cursor is not None

    # Resumed by another store instance (a restarted rotate command).
    resumed = SqlStore.open(database_url, both)
    try:
        total = rewritten
        while cursor is not None:
            rewritten, cursor = resumed.reencrypt_batch(after_id=cursor, limit=2)
            total += rewritten
        assert total == 5
        assert resumed.reencrypt_batch(after_id=None, limit=100) == (0, None)
    finally:
        resumed.close()

    new_only = SqlStore.open(database_url, KeyRing.parse(both.export().split(",")[0]))
    try:
        for external_id, tokens in saved.items():
            row = new_only.get_connection(external_id)
            assert row is not None
            if external_id != "c4":
                assert secret(row.access_token) == secret(tokens.access_token)
                assert secret(row.refresh_token) == secret(tokens.refresh_token)
    finally:
        new_only.close()


def test_reencrypt_batch_rejects_a_bad_limit(store: SqlStore) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        store.reencrypt_batch(after_id=None, limit=0)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_files_hold_no_plaintext_and_are_private(tmp_path: Path, keyring: KeyRing) -> None:
    url = sqlite_url(tmp_path)
    database = tmp_path / "vault" / "cdconnect.db"
    store = SqlStore.open(url, keyring)
    try:
        tokens = [new_tokens(f"MARKER{i}") for i in range(3)]
        for index, token in enumerate(tokens):
            row = store.save_connected(f"cust-{index}", token, now=NOW)
            store.store_rotation(row.id, generation=1, tokens=new_tokens("ROTATED"), now=NOW)
        store.create_pending(
            state=SecretStr("STATE-MARKER-0123456789"),
            external_id="cust-9",
            redirect_uri="https://vendor.example/cb",
            scope=(),
            issuer="https://id.centraldispatch.com",
            code_verifier=SecretStr("VERIFIER-MARKER-0123456789"),
            return_url=None,
            now=NOW,
            expires_at=NOW + 600,
        )
        wal = database.with_name(database.name + "-wal")
        shm = database.with_name(database.name + "-shm")
        assert wal.stat().st_size > 0  # the writes are (at least partly) in the WAL
        contents = database.read_bytes() + wal.read_bytes()
        secrets = [secret(t.access_token) for t in tokens] + [
            secret(t.refresh_token) for t in tokens
        ]
        secrets += ["STATE-MARKER-0123456789", "VERIFIER-MARKER-0123456789"]
        for value in secrets:
            assert value is not None
            assert value.encode() not in contents
        assert b"MARKER" not in contents and b"ROTATED" not in contents
        assert b"cust-0" in contents  # the files are readable: the check itself works
        assert (_mode(database), _mode(wal), _mode(shm)) == (0o600, 0o600, 0o600)
        assert _mode(database.parent) == 0o700
    finally:
        store.close()


def test_existing_lax_sqlite_file_is_tightened(tmp_path: Path, keyring: KeyRing) -> None:
    database = tmp_path / "lax.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    SqlStore.open(f"sqlite:///{database}", keyring).close()
    assert _mode(database) == 0o600


def test_full_reencryption_lets_the_old_key_go_for_pending_rows_too(
    store: SqlStore, database_url: str, keyring: KeyRing
) -> None:
    store.save_connected("a", new_tokens(), now=NOW)
    pending = store.create_pending(
        state=SecretStr("state-1"),
        external_id="a",
        redirect_uri="https://vendor.example/cb",
        scope=(),
        issuer="https://id.centraldispatch.com",
        code_verifier=SecretStr("verifier-1"),
        return_url=None,
        now=NOW,
        expires_at=NOW + 600,
    )
    store.attach_connect_link(
        pending.id, link=SecretStr("link-1"), authorize_url=SecretStr("https://x/authorize")
    )
    both = keyring.with_new_primary("test2")
    rotating = SqlStore.open(database_url, both)
    try:
        assert rotating.reencrypt_batch(after_id=None, limit=10) == (1, None)
    finally:
        rotating.close()
    new_only = SqlStore.open(database_url, KeyRing.parse(both.export().split(",")[0]))
    try:
        opened = new_only.open_connect_link(
            SecretStr("link-1"), browser_secret=SecretStr("browser-1"), now=NOW
        )
        assert opened is not None and secret(opened.authorize_url) == "https://x/authorize"
        consumed = new_only.consume_pending(SecretStr("state-1"), now=NOW)
        assert consumed is not None and secret(consumed.code_verifier) == "verifier-1"
    finally:
        new_only.close()
