"""Capture every log record of the process at DEBUG, and render a record completely.

A record is rendered as its message, its raw arguments, every ``extra`` attribute and its
exception and stack text: a secret hidden in any of them is found.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

#: Attributes every LogRecord has; anything else came through ``extra=``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
#: Loggers whose level or state a library may have set: opened up for the capture, then restored.
_OPENED = ("cdconnect", "httpx", "httpcore", "uvicorn", "uvicorn.error", "uvicorn.asgi")
_FORMATTER = logging.Formatter()


class RecordCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def capturing_everything() -> Iterator[RecordCollector]:
    """Every record of every logger at DEBUG and above, for the duration of the block."""
    collector = RecordCollector()
    root = logging.getLogger()
    saved_root = root.level
    saved = {
        name: (logging.getLogger(name).level, logging.getLogger(name).disabled) for name in _OPENED
    }
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    for name in _OPENED:
        logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger(name).disabled = False
    try:
        yield collector
    finally:
        root.removeHandler(collector)
        root.setLevel(saved_root)
        for name, (level, disabled) in saved.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).disabled = disabled


def record_text(record: logging.LogRecord) -> str:
    """Message, arguments, extras, exception and stack of ``record``, as one text."""
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        message = str(record.msg)
    parts = [record.name, message, repr(record.args)]
    parts += [f"{key}={value!r}" for key, value in vars(record).items() if key not in _STANDARD]
    if record.exc_info:
        parts.append(_FORMATTER.formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)
