"""Making server-supplied text safe to put in exception messages and logs."""

from __future__ import annotations

from collections.abc import Iterable

MAX_DESCRIPTION_LENGTH = 300
REDACTED = "[redacted]"


def sanitize_description(text: str, *, redact: Iterable[str] = ()) -> str:
    """An ``error_description`` fit for a log line.

    Control characters would let a server forge extra log lines, so they become spaces; very long
    text is cut. Any of the ``redact`` values (the secrets we just sent) is masked, in case a
    server echoes them back.
    """
    for secret in redact:
        if secret:
            text = text.replace(secret, REDACTED)
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    if len(cleaned) > MAX_DESCRIPTION_LENGTH:
        cleaned = cleaned[: MAX_DESCRIPTION_LENGTH - 3] + "..."
    return cleaned
