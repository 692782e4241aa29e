"""Helpers shared by the vault tests (values, raw SQL access behind the store's back)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

from cdconnect.vault import NewTokens

#: A fixed "now" for tests; times are plain floats from the caller's clock.
NOW = 1_700_000_000.0
SCOPE = ("marketplace", "offline_access")


def new_tokens(
    tag: str = "t",
    *,
    expires_at: float = NOW + 3600,
    refresh: bool = True,
    scope: tuple[str, ...] = SCOPE,
    claims: Mapping[str, Any] | None = None,
) -> NewTokens:
    """Tokens with recognisable, unique values (``ACCESS-<tag>-...``, ``REFRESH-<tag>-...``)."""
    nonce = uuid.uuid4().hex
    return NewTokens(
        access_token=SecretStr(f"ACCESS-{tag}-{nonce}"),
        access_expires_at=expires_at,
        refresh_token=SecretStr(f"REFRESH-{tag}-{nonce}") if refresh else None,
        scope=scope,
        claims=claims or {},
    )


def secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


@contextmanager
def raw_connection(database_url: str) -> Iterator[Connection]:
    """A plain transaction on the database, bypassing the store (to tamper, or to look)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()
