"""Migration revisions (one module each; alembic loads them by path)."""
