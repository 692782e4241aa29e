"""Initial vault schema: connections, pending authorizations, outbox events.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _create_connections()
    _create_pending_authorizations()
    _create_outbox_events()


def downgrade() -> None:
    op.drop_table("outbox_events")
    op.drop_table("pending_authorizations")
    op.drop_table("connections")


def _create_connections() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("claims", sa.Text, nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(255)),
        sa.Column("lease_until", sa.Double),
        sa.Column("access_token", sa.LargeBinary),
        sa.Column("access_expires_at", sa.Double),
        sa.Column("refresh_token", sa.LargeBinary),
        sa.Column("last_refresh_at", sa.Double),
        sa.Column("failure_count", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("reauth_reason", sa.String(64)),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.UniqueConstraint("external_id", name="uq_connections_external_id"),
    )
    op.create_index("ix_connections_status_external_id", "connections", ["status", "external_id"])
    op.create_index(
        "ix_connections_keepalive",
        "connections",
        ["status", sa.text("coalesce(last_refresh_at, created_at)")],
    )
    op.create_index("ix_connections_access_expiry", "connections", ["status", "access_expires_at"])


def _create_pending_authorizations() -> None:
    op.create_table(
        "pending_authorizations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("code_verifier", sa.LargeBinary),
        sa.Column("return_url", sa.Text),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("used_at", sa.Double),
        sa.UniqueConstraint("state_hash", name="uq_pending_authorizations_state_hash"),
    )
    op.create_index(
        "ix_pending_authorizations_expires_at", "pending_authorizations", ["expires_at"]
    )


def _create_outbox_events() -> None:
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("connection_id", sa.String(36), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("occurred_at", sa.Double, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Double, nullable=False),
        sa.Column("delivered_at", sa.Double),
        sa.Column("last_error", sa.Text),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name="fk_outbox_events_connection",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_outbox_events_due",
        "outbox_events",
        ["next_attempt_at"],
        sqlite_where=sa.text("delivered_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.create_index("ix_outbox_events_connection_id", "outbox_events", ["connection_id"])
