"""Operations work: key rotation (re-encryption) and the health check."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Table, select, text, update
from sqlalchemy.engine import Connection

from cdconnect.vault.crypto import KeyRing
from cdconnect.vault.rows import ACCESS_TOKEN, AUTHORIZE_URL, CODE_VERIFIER, REFRESH_TOKEN
from cdconnect.vault.schema import connections, pending_authorizations

_c = connections.c
_CURRENT_REVISION = text("SELECT version_num FROM alembic_version")


def reencrypt_batch(
    conn: Connection, ring: KeyRing, *, after_id: str | None, limit: int
) -> tuple[int, str | None]:
    """Re-seal, under the primary key, the tokens of up to ``limit`` rows after ``after_id``.

    The rows are locked (PostgreSQL ``FOR UPDATE``; SQLite's write lock) so a rotation cannot
    slip in between reading a ciphertext and writing its re-encryption back. The last batch also
    re-seals the (few, short-lived) pending authorizations, so that after a full pass the old
    key can be dropped without breaking a connect in progress. Only connections are counted.
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
        sealed = {ACCESS_TOKEN: row.access_token, REFRESH_TOKEN: row.refresh_token}
        rewritten += _reseal_row(conn, ring, connections, row.id, sealed)
    if len(rows) == limit:
        return rewritten, rows[-1].id
    _reencrypt_pending(conn, ring)
    return rewritten, None


def _reencrypt_pending(conn: Connection, ring: KeyRing) -> None:
    p = pending_authorizations.c
    query = select(p.id, p.code_verifier, p.authorize_url).with_for_update()
    for row in conn.execute(query).all():
        sealed = {CODE_VERIFIER: row.code_verifier, AUTHORIZE_URL: row.authorize_url}
        _reseal_row(conn, ring, pending_authorizations, row.id, sealed)


def _reseal_row(
    conn: Connection,
    ring: KeyRing,
    table: Table,
    record_id: str,
    sealed: Mapping[str, bytes | None],
) -> int:
    """Re-seal the fields not under the primary key; 1 if the row was rewritten, else 0."""
    values = {
        field: ring.encrypt(
            ring.decrypt(blob, record_id=record_id, field=field), record_id=record_id, field=field
        )
        for field, blob in sealed.items()
        if blob is not None and ring.needs_reencryption(blob)
    }
    if not values:
        return 0
    conn.execute(update(table).where(table.c.id == record_id).values(values))
    return 1


def current_revision(conn: Connection) -> str | None:
    """The revision in ``alembic_version``, read directly (cheap enough for health checks)."""
    value = conn.execute(_CURRENT_REVISION).scalar()
    return None if value is None else str(value)
