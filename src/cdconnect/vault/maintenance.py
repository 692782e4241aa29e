"""Operations work: key rotation (re-encryption) and the health check."""

from __future__ import annotations

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection

from cdconnect.vault.crypto import KeyRing
from cdconnect.vault.rows import ACCESS_TOKEN, REFRESH_TOKEN
from cdconnect.vault.schema import connections

_c = connections.c
_CURRENT_REVISION = text("SELECT version_num FROM alembic_version")


def reencrypt_batch(
    conn: Connection, ring: KeyRing, *, after_id: str | None, limit: int
) -> tuple[int, str | None]:
    """Re-seal, under the primary key, the tokens of up to ``limit`` rows after ``after_id``.

    The rows are locked (PostgreSQL ``FOR UPDATE``; SQLite's write lock) so a rotation cannot
    slip in between reading a ciphertext and writing its re-encryption back.
    """
    query = (
        select(_c.id, _c.access_token, _c.refresh_token)
        .order_by(_c.id)
        .limit(limit)
        .with_for_update()
    )
    if after_id is not None:
        query = query.where(_c.id > after_id)
    rows = conn.execute(query).all()
    rewritten = 0
    for row in rows:
        values = {
            field: _reseal(ring, blob, record_id=row.id, field=field)
            for field, blob in (
                (ACCESS_TOKEN, row.access_token),
                (REFRESH_TOKEN, row.refresh_token),
            )
            if blob is not None and ring.needs_reencryption(blob)
        }
        if values:
            conn.execute(update(connections).where(_c.id == row.id).values(values))
            rewritten += 1
    last_id = rows[-1].id if len(rows) == limit and rows else None
    return rewritten, last_id


def _reseal(ring: KeyRing, blob: bytes, *, record_id: str, field: str) -> bytes:
    plaintext = ring.decrypt(blob, record_id=record_id, field=field)
    return ring.encrypt(plaintext, record_id=record_id, field=field)


def current_revision(conn: Connection) -> str | None:
    """The revision in ``alembic_version``, read directly (cheap enough for health checks)."""
    value = conn.execute(_CURRENT_REVISION).scalar()
    return None if value is None else str(value)
