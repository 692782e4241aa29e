"""The ``cdconnect`` command line: a face over the library API (no SQL, no token logic here)."""

from cdconnect.cli.app import app, main

__all__ = ["app", "main"]
