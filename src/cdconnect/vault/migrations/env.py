"""Alembic environment: runs on the connection handed over by ``cdconnect.vault.migrate``.

There is no alembic.ini and no URL here on purpose: the vault opens the database itself (with
its SQLite pragmas and error handling) and passes the connection, already inside the
transaction that serialises concurrent upgrades.
"""

from __future__ import annotations

from alembic import context

from cdconnect.vault.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError(
        "the vault migrations run on a live connection: use cdconnect.vault.migrate.upgrade()"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables when needed.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
