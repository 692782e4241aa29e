"""The vault's tables, as SQLAlchemy Core metadata.

This is the schema the code expects at migration head; the migrations under ``migrations/`` are
what creates it (they do not import this module, so old revisions stay frozen). A test checks
that both agree on SQLite and PostgreSQL.

Conventions: ids are uuid4 text; times are seconds since the epoch (double precision) from the
caller's clock; secrets are AES-GCM ciphertexts (``LargeBinary``: BLOB / BYTEA, see ``crypto``);
JSON is stored as text so both databases treat it alike; scopes are space-delimited text.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

metadata = MetaData()

connections = Table(
    "connections",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("external_id", String(255), nullable=False),
    Column("status", String(32), nullable=False),
    Column("scope", Text, nullable=False),
    Column("claims", Text, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("lease_owner", String(255)),
    Column("lease_until", Double),
    Column("access_token", LargeBinary),
    Column("access_expires_at", Double),
    Column("refresh_token", LargeBinary),
    Column("last_refresh_at", Double),
    Column("failure_count", Integer, nullable=False),
    Column("last_error", Text),
    Column("reauth_reason", String(64)),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    UniqueConstraint("external_id", name="uq_connections_external_id"),
)

#: When a connection was last given a fresh grant; what the keep-alive picker orders by.
keepalive_anchor = func.coalesce(connections.c.last_refresh_at, connections.c.created_at)

Index("ix_connections_status_external_id", connections.c.status, connections.c.external_id)
Index("ix_connections_keepalive", connections.c.status, keepalive_anchor)
Index("ix_connections_access_expiry", connections.c.status, connections.c.access_expires_at)

pending_authorizations = Table(
    "pending_authorizations",
    metadata,
    Column("id", String(36), primary_key=True),
    # SHA-256 (hex) of the state: a database leak must not yield a usable state.
    Column("state_hash", String(64), nullable=False),
    Column("external_id", String(255), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),
    Column("issuer", Text, nullable=False),
    Column("code_verifier", LargeBinary),
    Column("return_url", Text),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("used_at", Double),
    # Connect links (revision 0002): SHA-256 (hex) of the single-use link id, the authorize
    # URL encrypted (it carries the state), and when the link was opened.
    Column("link_hash", String(64)),
    Column("authorize_url", LargeBinary),
    Column("link_opened_at", Double),
    # Browser binding (revision 0003): SHA-256 (hex) of the secret given to the browser that
    # opened the connect link; the callback must present it.
    Column("browser_binding_hash", String(64)),
    UniqueConstraint("state_hash", name="uq_pending_authorizations_state_hash"),
)

Index("ix_pending_authorizations_expires_at", pending_authorizations.c.expires_at)
Index("ix_pending_authorizations_link_hash", pending_authorizations.c.link_hash, unique=True)

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("type", String(64), nullable=False),
    Column(
        "connection_id",
        String(36),
        ForeignKey("connections.id", ondelete="CASCADE", name="fk_outbox_events_connection"),
        nullable=False,
    ),
    Column("external_id", String(255), nullable=False),
    Column("occurred_at", Double, nullable=False),
    Column("data", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Double, nullable=False),
    Column("delivered_at", Double),
    Column("last_error", Text),
)

Index(
    "ix_outbox_events_due",
    outbox_events.c.next_attempt_at,
    sqlite_where=outbox_events.c.delivered_at.is_(None),
    postgresql_where=outbox_events.c.delivered_at.is_(None),
)
Index("ix_outbox_events_connection_id", outbox_events.c.connection_id)
