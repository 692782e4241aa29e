"""Pending authorizations: what a started connect needs to finish, single use and short-lived.

Only a SHA-256 of ``state`` is stored, so a leaked database cannot be used to forge a callback;
the PKCE verifier is encrypted with the pending row's id as associated data. Looking the hash up
through a unique index is safe without a constant-time compare: the hash of a random state
reveals nothing usable about the state. The browser secret of a connect link is kept the same
way (a hash only); comparing it is the manager's business.
"""

from __future__ import annotations

import uuid

from pydantic import SecretStr
from sqlalchemy import delete, insert, update
from sqlalchemy.engine import Connection

from cdconnect.vault.api import OpenedLink, PendingAuthorization, secret_hash
from cdconnect.vault.crypto import KeyRing
from cdconnect.vault.rows import (
    AUTHORIZE_URL,
    CODE_VERIFIER,
    encode_scope,
    pending_authorization,
    seal,
    unseal,
)
from cdconnect.vault.schema import pending_authorizations

_p = pending_authorizations.c


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
            state_hash=secret_hash(state),
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
        .where(_p.state_hash == secret_hash(state), _p.used_at.is_(None), _p.expires_at > now)
        .values(used_at=now)
        .returning(*_p)
    ).first()
    return None if row is None else pending_authorization(ring, row)


def attach_link(
    conn: Connection, ring: KeyRing, pending_id: str, *, link: SecretStr, authorize_url: SecretStr
) -> None:
    """Give a pending authorization its single-use link (hashed) and authorize URL (encrypted).

    A pending row that no longer exists (swept after expiry) is left alone: its link could never
    be opened anyway.
    """
    conn.execute(
        update(pending_authorizations)
        .where(_p.id == pending_id)
        .values(
            link_hash=secret_hash(link),
            authorize_url=seal(ring, authorize_url, record_id=pending_id, field=AUTHORIZE_URL),
        )
    )


def open_link(
    conn: Connection, ring: KeyRing, link: SecretStr, *, browser_secret: SecretStr, now: float
) -> OpenedLink | None:
    """Spend the link, bind the authorization to the browser's secret (hashed), return the URL.

    One conditional UPDATE: the link is spent and bound together, so two browsers racing for
    one link cannot both be bound. None if unknown, expired, opened or used.
    """
    row = conn.execute(
        update(pending_authorizations)
        .where(
            _p.link_hash == secret_hash(link),
            _p.link_opened_at.is_(None),
            _p.used_at.is_(None),
            _p.expires_at > now,
        )
        .values(link_opened_at=now, browser_binding_hash=secret_hash(browser_secret))
        .returning(_p.id, _p.authorize_url, _p.expires_at)
    ).first()
    if row is None:
        return None
    url = unseal(ring, row.authorize_url, record_id=row.id, field=AUTHORIZE_URL)
    # attach_link seals a URL with every link hash: a missing one is treated as an unusable link.
    return None if url is None else OpenedLink(url, expires_at=float(row.expires_at))
