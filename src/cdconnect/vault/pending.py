"""Pending authorizations: what a started connect needs to finish, single use and short-lived.

Only a SHA-256 of ``state`` is stored, so a leaked database cannot be used to forge a callback;
the PKCE verifier is encrypted with the pending row's id as associated data. Looking the hash up
through a unique index is safe without a constant-time compare: the hash of a random state
reveals nothing usable about the state.
"""

from __future__ import annotations

import hashlib
import uuid

from pydantic import SecretStr
from sqlalchemy import delete, insert, update
from sqlalchemy.engine import Connection

from cdconnect.vault.api import PendingAuthorization
from cdconnect.vault.crypto import KeyRing
from cdconnect.vault.rows import CODE_VERIFIER, encode_scope, pending_authorization, seal
from cdconnect.vault.schema import pending_authorizations

_p = pending_authorizations.c


def state_hash(state: SecretStr) -> str:
    return hashlib.sha256(state.get_secret_value().encode()).hexdigest()


def create(
    conn: Connection,
    ring: KeyRing,
    *,
    state: SecretStr,
    external_id: str,
    redirect_uri: str,
    scope: tuple[str, ...],
    issuer: str,
    code_verifier: SecretStr | None,
    return_url: str | None,
    now: float,
    expires_at: float,
) -> PendingAuthorization:
    # Expired rows can never be consumed: sweep them here instead of needing a janitor.
    conn.execute(delete(pending_authorizations).where(_p.expires_at < now))
    pending_id = str(uuid.uuid4())
    conn.execute(
        insert(pending_authorizations).values(
            id=pending_id,
            state_hash=state_hash(state),
            external_id=external_id,
            redirect_uri=redirect_uri,
            scope=encode_scope(scope),
            issuer=issuer,
            code_verifier=seal(ring, code_verifier, record_id=pending_id, field=CODE_VERIFIER),
            return_url=return_url,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return PendingAuthorization(
        id=pending_id,
        external_id=external_id,
        redirect_uri=redirect_uri,
        scope=scope,
        issuer=issuer,
        code_verifier=code_verifier,
        return_url=return_url,
        created_at=now,
        expires_at=expires_at,
    )


def consume(
    conn: Connection, ring: KeyRing, state: SecretStr, *, now: float
) -> PendingAuthorization | None:
    """Mark used and return it, in one conditional UPDATE: a replay or a race finds nothing."""
    row = conn.execute(
        update(pending_authorizations)
        .where(_p.state_hash == state_hash(state), _p.used_at.is_(None), _p.expires_at > now)
        .values(used_at=now)
        .returning(*_p)
    ).first()
    return None if row is None else pending_authorization(ring, row)
