"""Field encryption for the vault: AES-256-GCM under a key ring.

Ciphertext format (version 1, binary, stored as-is in BLOB/BYTEA columns)::

    0x01 | len(kid) (1 byte) | kid (ASCII) | nonce (12 bytes) | AES-GCM ciphertext + 16-byte tag

The associated data binds every ciphertext to the place it belongs::

    header (0x01 | len(kid) | kid) | len(record_id) (2 bytes, big endian) | record_id | field

so a ciphertext copied to another row or another column fails to decrypt, and the key id in the
header cannot be altered without failing too.

Key ring text (``CDCONNECT_ENCRYPTION_KEYS``): comma-separated ``kid:base64url(32 bytes)``
entries. The first key encrypts; every key decrypts. Rotation = put a new key first, run the
re-encrypt command, then drop the old key.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cdconnect.errors import DecryptionError, KeyRingError

log = logging.getLogger(__name__)

#: The environment variable holding the key ring text.
ENCRYPTION_KEYS_ENV = "CDCONNECT_ENCRYPTION_KEYS"

FORMAT_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_FILE_FORMAT = "cdconnect-keys"

_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_B64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes | None:
    """Strict base64url decode; None when ``text`` is not base64url (never echo the text)."""
    if not _B64URL.fullmatch(text):
        return None
    try:
        bare = text.rstrip("=")
        return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except ValueError:
        return None


def _check_kid(kid: str, where: str) -> str:
    if not _KID.fullmatch(kid):
        raise KeyRingError(f"{where}: the key id must be 1-64 characters from A-Z a-z 0-9 . _ -")
    return kid


def new_kid() -> str:
    """A fresh random key id (ids only need to be unique within one ring)."""
    return "k" + secrets.token_hex(4)


def generate_key_entry(kid: str | None = None) -> str:
    """A new ``kid:base64url(32 random bytes)`` entry for ``CDCONNECT_ENCRYPTION_KEYS``."""
    kid = _check_kid(kid or new_kid(), "new key")
    return f"{kid}:{_b64url_encode(secrets.token_bytes(KEY_BYTES))}"


class KeyRing:
    """Several decryption keys, one encryption key (the first). Immutable and thread-safe."""

    __slots__ = ("_ciphers", "_kids", "_raw")

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        pairs = list(keys)
        if not pairs:
            raise KeyRingError("the key ring is empty: at least one key is required")
        ciphers: dict[str, AESGCM] = {}
        for kid, raw in pairs:
            _check_kid(kid, "key ring")
            if kid in ciphers:
                raise KeyRingError(f"key id {kid!r} appears more than once")
            if len(raw) != KEY_BYTES:
                raise KeyRingError(f"key {kid!r} must be {KEY_BYTES} bytes, got {len(raw)}")
            ciphers[kid] = AESGCM(raw)
        self._ciphers = ciphers
        self._kids = tuple(ciphers)
        # Kept only for export(); never part of repr or messages.
        self._raw = tuple(pairs)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """Parse ``kid:base64url,kid:base64url``; errors name the entry, never its key."""
        pairs: list[tuple[str, bytes]] = []
        entries = [entry.strip() for entry in text.split(",")]
        for number, entry in enumerate((e for e in entries if e), start=1):
            pairs.append(_parse_entry(entry, f"{ENCRYPTION_KEYS_ENV} entry {number}"))
        if not pairs:
            raise KeyRingError(f"{ENCRYPTION_KEYS_ENV} holds no key")
        return cls(pairs)

    @classmethod
    def generate(cls, kid: str | None = None) -> KeyRing:
        """A ring of one new random key."""
        return cls.parse(generate_key_entry(kid))

    def with_new_primary(self, kid: str | None = None) -> KeyRing:
        """This ring with a new random key in front (it encrypts from now on)."""
        fresh = KeyRing.generate(kid)
        return KeyRing([*fresh._raw, *self._raw])

    def export(self) -> str:
        """The ring as ``CDCONNECT_ENCRYPTION_KEYS`` text. Reveals the keys: handle with care."""
        return ",".join(f"{kid}:{key}" for kid, key in self._encoded())

    def _encoded(self) -> list[tuple[str, str]]:
        return [(kid, _b64url_encode(raw)) for kid, raw in self._raw]

    # -- inspection -----------------------------------------------------------------------------
    @property
    def primary_kid(self) -> str:
        return self._kids[0]

    @property
    def kids(self) -> tuple[str, ...]:
        return self._kids

    def __repr__(self) -> str:
        return f"KeyRing(kids={list(self._kids)!r}, primary={self.primary_kid!r})"

    @staticmethod
    def key_id_of(ciphertext: bytes) -> str:
        """The id of the key that sealed ``ciphertext``."""
        return _split(ciphertext)[1]

    def needs_reencryption(self, ciphertext: bytes) -> bool:
        return self.key_id_of(ciphertext) != self.primary_kid

    # -- sealing --------------------------------------------------------------------------------
    def encrypt(self, plaintext: bytes, *, record_id: str, field: str) -> bytes:
        """Seal ``plaintext`` for ``field`` of row ``record_id`` under the primary key."""
        kid = self.primary_kid
        header = _header(kid)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[kid].encrypt(nonce, plaintext, _aad(header, record_id, field))
        return header + nonce + sealed

    def decrypt(self, ciphertext: bytes, *, record_id: str, field: str) -> bytes:
        """Open a ciphertext made by :meth:`encrypt` for the same row and field."""
        header, kid, nonce, sealed = _split(ciphertext)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DecryptionError(
                f"cannot decrypt {field} of {record_id}: key id {kid!r} is not in the key ring"
            )
        try:
            return cipher.decrypt(nonce, sealed, _aad(header, record_id, field))
        except InvalidTag:
            raise DecryptionError(
                f"cannot decrypt {field} of {record_id} with key {kid!r}: wrong key, "
                "or the value was moved from another row/field or altered"
            ) from None


def _parse_entry(entry: str, where: str) -> tuple[str, bytes]:
    kid, sep, encoded = (part.strip() for part in entry.partition(":"))
    if not sep:
        raise KeyRingError(f"{where}: expected 'kid:base64url-key'")
    _check_kid(kid, where)
    raw = _b64url_decode(encoded)
    if raw is None:
        raise KeyRingError(f"{where} (key id {kid!r}): the key is not base64url")
    if len(raw) != KEY_BYTES:
        raise KeyRingError(
            f"{where} (key id {kid!r}): the key must decode to {KEY_BYTES} bytes, got {len(raw)}"
        )
    return kid, raw


def _header(kid: str) -> bytes:
    encoded = kid.encode("ascii")
    return bytes((FORMAT_VERSION, len(encoded))) + encoded


def _aad(header: bytes, record_id: str, field: str) -> bytes:
    rid = record_id.encode("utf-8")
    return header + len(rid).to_bytes(2, "big") + rid + field.encode("utf-8")


def _split(ciphertext: bytes) -> tuple[bytes, str, bytes, bytes]:
    """(header, kid, nonce, sealed) of a v1 ciphertext, or DecryptionError."""
    data = bytes(ciphertext)
    if len(data) < 2 or data[0] != FORMAT_VERSION:
        raise DecryptionError("not a cdconnect ciphertext (unknown format version)")
    end = 2 + data[1]
    if len(data) < end + NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("truncated ciphertext")
    try:
        kid = data[2:end].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("malformed ciphertext header") from None
    return data[:end], kid, data[end : end + NONCE_BYTES], data[end + NONCE_BYTES :]


# -- the embedded default's key file ----------------------------------------------------------


def read_key_file(path: str | os.PathLike[str]) -> KeyRing:
    """Load a key file written by :func:`load_or_create_key_file`."""
    file = Path(path)
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
        keys = [(str(item["kid"]), str(item["key"])) for item in document["keys"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise KeyRingError(f"key file {file} is unreadable or not a cdconnect key file") from None
    if document.get("format") != KEY_FILE_FORMAT:
        raise KeyRingError(f"key file {file} is not a cdconnect key file")
    return KeyRing.parse(",".join(f"{kid}:{key}" for kid, key in keys))


def load_or_create_key_file(path: str | os.PathLike[str]) -> KeyRing:
    """The embedded default: a generated key kept in a 0600 file next to the database.

    Convenient for a single host, weak against theft of the data directory: the key travels
    with the data. Logs a warning every time so the choice stays visible.
    """
    file = Path(path)
    if not file.exists():
        _create_key_file(file, KeyRing.generate())
    log.warning(
        "cdconnect is using the generated encryption key file %s, which sits next to the data "
        "it protects; set %s (kept elsewhere, e.g. a secret manager) for production",
        file,
        ENCRYPTION_KEYS_ENV,
    )
    return read_key_file(file)


def _create_key_file(file: Path, ring: KeyRing) -> None:
    """Write the ring to ``file`` (mode 0600) atomically; a concurrent creator's file wins.

    The key is written to a private temporary file first and hard-linked into place, so a reader
    never sees a half-written key file and an existing file is never replaced.
    """
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    entries = [{"kid": kid, "key": key} for kid, key in ring._encoded()]
    body = json.dumps({"format": KEY_FILE_FORMAT, "version": 1, "keys": entries}, indent=2)
    temp = file.with_name(f".{file.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # FileExistsError: another process created it first; use theirs.
        with contextlib.suppress(FileExistsError):
            os.link(temp, file)
    finally:
        temp.unlink(missing_ok=True)
