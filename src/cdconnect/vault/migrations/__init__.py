"""Alembic migrations of the vault schema, run programmatically by ``cdconnect.vault.migrate``."""
