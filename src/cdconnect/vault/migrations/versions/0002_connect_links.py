"""Connect links: a single-use link id (hashed) and the encrypted authorize URL per pending row.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain nullable ADD COLUMNs: SQLite supports them in place, no table rebuild needed.
    op.add_column("pending_authorizations", sa.Column("link_hash", sa.String(64)))
    op.add_column("pending_authorizations", sa.Column("authorize_url", sa.LargeBinary))
    op.add_column("pending_authorizations", sa.Column("link_opened_at", sa.Double))
    op.create_index(
        "ix_pending_authorizations_link_hash",
        "pending_authorizations",
        ["link_hash"],
        unique=True,
    )


def downgrade() -> None:
    with op.batch_alter_table("pending_authorizations") as batch:
        batch.drop_index("ix_pending_authorizations_link_hash")
        batch.drop_column("link_opened_at")
        batch.drop_column("authorize_url")
        batch.drop_column("link_hash")
