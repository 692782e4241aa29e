"""Logging for the command line: warnings (or, with ``--verbose``, info) as plain lines on stderr.

The handler looks up ``sys.stderr`` at every record instead of binding the stream once, so it
follows redirections (and test runners that swap the stream per invocation).
"""

from __future__ import annotations

import logging
import sys

_FORMAT = "%(levelname)s %(name)s: %(message)s"


class StderrHandler(logging.Handler):
    """Writes each record to whatever ``sys.stderr`` is at that moment."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never break the command
            self.handleError(record)


def configure_logging(*, verbose: bool) -> None:
    """Send the ``cdconnect`` loggers to stderr; idempotent across invocations in one process."""
    logger = logging.getLogger("cdconnect")
    handler = next((h for h in logger.handlers if isinstance(h, StderrHandler)), None)
    if handler is None:
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


def release_logging() -> None:
    """Remove the CLI's handler, for commands (``serve``) that configure logging themselves."""
    logger = logging.getLogger("cdconnect")
    for handler in [h for h in logger.handlers if isinstance(h, StderrHandler)]:
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
