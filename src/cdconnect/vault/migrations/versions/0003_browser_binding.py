"""Browser binding: the hash of the secret given to the browser that opened a connect link.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: rows from begin_connect (and rows pending during the upgrade) carry no binding
    # and are finished as before.
    op.add_column("pending_authorizations", sa.Column("browser_binding_hash", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("pending_authorizations") as batch:
        batch.drop_column("browser_binding_hash")
