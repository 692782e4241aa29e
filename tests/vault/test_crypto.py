"""The key ring: format, associated data, parsing, key files."""

from __future__ import annotations

import base64
import logging
import stat
from pathlib import Path

import pytest

from cdconnect.errors import DecryptionError, KeyRingError
from cdconnect.vault import KeyRing, generate_key_entry, load_or_create_key_file, read_key_file
from cdconnect.vault.crypto import FORMAT_VERSION, NONCE_BYTES, TAG_BYTES

RAW_KEY = bytes(range(32))
ENCODED_KEY = base64.urlsafe_b64encode(RAW_KEY).rstrip(b"=").decode()


def test_round_trip_and_format() -> None:
    ring = KeyRing([("k1", RAW_KEY)])
    blob = ring.encrypt(b"hello", record_id="row-1", field="access_token")
    assert blob[0] == FORMAT_VERSION
    assert blob[1] == 2 and blob[2:4] == b"k1"
    assert len(blob) == 4 + NONCE_BYTES + len(b"hello") + TAG_BYTES
    assert b"hello" not in blob
    assert KeyRing.key_id_of(blob) == "k1"
    assert ring.decrypt(blob, record_id="row-1", field="access_token") == b"hello"


def test_nonce_is_fresh_per_encryption() -> None:
    ring = KeyRing.generate()
    first = ring.encrypt(b"same", record_id="r", field="f")
    second = ring.encrypt(b"same", record_id="r", field="f")
    assert first != second


@pytest.mark.parametrize(
    ("record_id", "field"), [("row-2", "access_token"), ("row-1", "refresh_token")]
)
def test_associated_data_binds_row_and_field(record_id: str, field: str) -> None:
    ring = KeyRing.generate()
    blob = ring.encrypt(b"secret", record_id="row-1", field="access_token")
    with pytest.raises(DecryptionError) as caught:
        ring.decrypt(blob, record_id=record_id, field=field)
    assert "secret" not in str(caught.value)


def test_tampered_kid_or_body_fails() -> None:
    ring = KeyRing([("k1", RAW_KEY), ("k2", RAW_KEY)])
    blob = ring.encrypt(b"secret", record_id="r", field="f")
    relabelled = blob[:2] + b"k2" + blob[4:]
    with pytest.raises(DecryptionError):
        ring.decrypt(relabelled, record_id="r", field="f")
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError):
        ring.decrypt(flipped, record_id="r", field="f")


@pytest.mark.parametrize("blob", [b"", b"\x02\x01k" + bytes(40), b"\x01\x05k1" + bytes(3)])
def test_malformed_ciphertext_is_a_decryption_error(blob: bytes) -> None:
    with pytest.raises(DecryptionError):
        KeyRing.generate().decrypt(blob, record_id="r", field="f")


def test_wrong_key_and_unknown_kid() -> None:
    blob = KeyRing.generate("a").encrypt(b"x", record_id="r", field="f")
    with pytest.raises(DecryptionError, match="wrong key"):
        KeyRing.generate("a").decrypt(blob, record_id="r", field="f")
    with pytest.raises(DecryptionError, match="not in the key ring"):
        KeyRing.generate("b").decrypt(blob, record_id="r", field="f")


def test_old_key_still_decrypts_after_new_primary() -> None:
    old = KeyRing.generate("old")
    blob = old.encrypt(b"x", record_id="r", field="f")
    rotated = old.with_new_primary("new")
    assert rotated.kids == ("new", "old")
    assert rotated.primary_kid == "new"
    assert rotated.decrypt(blob, record_id="r", field="f") == b"x"
    assert rotated.needs_reencryption(blob)
    assert not rotated.needs_reencryption(rotated.encrypt(b"x", record_id="r", field="f"))


def test_parse_and_export() -> None:
    text = f" k1:{ENCODED_KEY} , k2:{ENCODED_KEY}== ,"
    ring = KeyRing.parse(text)
    assert ring.kids == ("k1", "k2")
    assert KeyRing.parse(ring.export()).kids == ("k1", "k2")
    assert ring.export().split(",")[0] == f"k1:{ENCODED_KEY}"


def test_generate_key_entry() -> None:
    entry = generate_key_entry("2025-01")
    kid, _, key = entry.partition(":")
    assert kid == "2025-01"
    assert len(base64.urlsafe_b64decode(key + "=")) == 32
    assert KeyRing.parse(entry).primary_kid == "2025-01"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no key"),
        (" , ", "holds no key"),
        (ENCODED_KEY, "expected 'kid:base64url-key'"),
        (f"bad kid:{ENCODED_KEY}", "key id must be"),
        ("k1:not*base64", "not base64url"),
        ("k1:" + base64.urlsafe_b64encode(bytes(16)).decode(), "must decode to 32 bytes"),
        (f"k1:{ENCODED_KEY},k1:{ENCODED_KEY}", "more than once"),
    ],
)
def test_parse_errors_are_clear_and_never_echo_keys(text: str, message: str) -> None:
    with pytest.raises(KeyRingError, match=message) as caught:
        KeyRing.parse(text)
    assert ENCODED_KEY not in str(caught.value)
    assert ENCODED_KEY[:12] not in str(caught.value)


def test_repr_never_shows_keys() -> None:
    ring = KeyRing([("k1", RAW_KEY)])
    assert repr(ring) == "KeyRing(kids=['k1'], primary='k1')"
    assert ENCODED_KEY not in repr(ring)
    assert repr(RAW_KEY) not in repr(ring)


def test_key_file_created_private_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "data" / "cdconnect.key"
    with caplog.at_level(logging.WARNING, logger="cdconnect.vault.crypto"):
        first = load_or_create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "sits next to the data" in caplog.text
    assert first.export().split(":", 1)[1] not in caplog.text
    second = load_or_create_key_file(path)
    assert second.export() == first.export()
    assert read_key_file(path).export() == first.export()
    assert list(path.parent.iterdir()) == [path]


def test_key_file_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "broken.key"
    path.write_text("{not json")
    with pytest.raises(KeyRingError, match="not a cdconnect key file"):
        read_key_file(path)
    path.write_text('{"keys": []}')
    with pytest.raises(KeyRingError, match="not a cdconnect key file"):
        read_key_file(path)
