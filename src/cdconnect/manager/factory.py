"""Build a ready ``ConnectionManager`` from settings (the embedded default or PostgreSQL)."""

from __future__ import annotations

import time

from cdconnect.manager.core import ConnectionManager
from cdconnect.models import Clock
from cdconnect.settings import Settings, load_settings
from cdconnect.vault.crypto import KeyRing, load_or_create_key_file
from cdconnect.vault.store import SqlStore

#: Name of the generated key file inside ``data_dir`` for the embedded default.
KEY_FILE_NAME = "encryption-keys.json"


def keyring_from_settings(settings: Settings) -> KeyRing:
    """``CDCONNECT_ENCRYPTION_KEYS`` when set; otherwise the key file (created on first use)."""
    if settings.encryption_keys is not None:
        return KeyRing.parse(settings.encryption_keys.get_secret_value())
    return load_or_create_key_file(settings.key_file or settings.data_dir / KEY_FILE_NAME)


def open_store(settings: Settings, *, migrate: bool = True) -> SqlStore:
    return SqlStore.open(
        settings.effective_database_url, keyring_from_settings(settings), migrate=migrate
    )


def open_manager(
    settings: Settings | None = None, *, clock: Clock = time.time, migrate: bool = True
) -> ConnectionManager:
    """A manager on the configured database (settings from the environment by default)."""
    settings = settings or load_settings()
    return ConnectionManager(settings, open_store(settings, migrate=migrate), clock=clock)
