"""Encrypted persistence: the store contract, ``SqlStore`` (SQLite/PostgreSQL), the key ring."""

from cdconnect.vault.api import (
    ConnectionPage,
    ConnectionRow,
    ConnectionStore,
    NewTokens,
    OpenedLink,
    OutboxEvent,
    PendingAuthorization,
)
from cdconnect.vault.crypto import (
    ENCRYPTION_KEYS_ENV,
    KeyRing,
    generate_key_entry,
    load_or_create_key_file,
    read_key_file,
)
from cdconnect.vault.engine import mask_url
from cdconnect.vault.migrate import SchemaStatus
from cdconnect.vault.store import SqlStore

__all__ = [
    "ENCRYPTION_KEYS_ENV",
    "ConnectionPage",
    "ConnectionRow",
    "ConnectionStore",
    "KeyRing",
    "NewTokens",
    "OpenedLink",
    "OutboxEvent",
    "PendingAuthorization",
    "SchemaStatus",
    "SqlStore",
    "generate_key_entry",
    "load_or_create_key_file",
    "mask_url",
    "read_key_file",
]
