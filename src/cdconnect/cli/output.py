"""Rendering: JSON on stdout for scripts, Rich tables for people, times in two spellings.

User-controlled text (external ids, error messages) goes into Rich as ``Text``/escaped strings,
never as markup, so a ``[`` in an id cannot restyle or hide output.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table

from cdconnect.models import Connection, ConnectionStatus, utc

_STATUS_STYLE = {
    ConnectionStatus.ACTIVE: "green",
    ConnectionStatus.REAUTH_REQUIRED: "bold red",
    ConnectionStatus.DISCONNECTED: "dim",
}


#: Width for output that is not a terminal (a pipe, a file): wide enough not to wrap tables.
PIPE_WIDTH = 160


def stdout_console() -> Console:
    return Console(highlight=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else PIPE_WIDTH)


def write_json(data: Any) -> None:
    """One JSON document on stdout (the only thing a ``--json`` command prints there)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def write_json_line(data: Any) -> None:
    """One compact JSON object per line (JSON Lines), so a pipe can read records as they come."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def write_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def note(text: str) -> None:
    """A message for the person at the terminal (stderr, plain text)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def iso(timestamp: float | None) -> str | None:
    """Seconds since the epoch as ISO 8601 UTC (second precision), None stays None."""
    if timestamp is None:
        return None
    return utc(timestamp).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def duration(seconds: float) -> str:
    """A short human duration: ``45s``, ``12m``, ``3h``, ``5d``."""
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def relative(timestamp: float | None, now: float | None = None) -> str:
    """``in 58m`` / ``3m ago`` / ``-``."""
    if timestamp is None:
        return "-"
    delta = timestamp - (time.time() if now is None else now)
    return f"in {duration(delta)}" if delta >= 0 else f"{duration(delta)} ago"


def abbreviate(secret_value: str, keep: int = 12) -> str:
    """The first ``keep`` characters and an ellipsis: enough to tell tokens apart on screen."""
    return secret_value[:keep] + "…"


def connection_json(connection: Connection, *, claims: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "external_id": connection.external_id,
        "id": connection.id,
        "status": connection.status.value,
        "scope": list(connection.scope),
        "generation": connection.generation,
        "access_expires_at": iso(connection.access_expires_at),
        "has_refresh_token": connection.has_refresh_token,
        "last_refresh_at": iso(connection.last_refresh_at),
        "failure_count": connection.failure_count,
        "last_error": connection.last_error,
        "reauth_reason": connection.reauth_reason,
        "created_at": iso(connection.created_at),
        "updated_at": iso(connection.updated_at),
    }
    if claims:
        # Unverified JWT claims: metadata for people, never an identity.
        data["claims"] = dict(connection.claims)
    return data


def _status_text(status: ConnectionStatus) -> str:
    return f"[{_STATUS_STYLE[status]}]{status.value}[/]"


def _problem(connection: Connection) -> str:
    return connection.reauth_reason or connection.last_error or ""


def connections_table(connections: Iterable[Connection], *, now: float | None = None) -> Table:
    table = Table(title=None, header_style="bold")
    for name in ("external id", "status", "scope", "gen", "access token", "refreshed", "note"):
        table.add_column(name, overflow="fold")
    for connection in connections:
        table.add_row(
            _escaped(connection.external_id),
            _status_text(connection.status),
            _escaped(" ".join(connection.scope)),
            str(connection.generation),
            relative(connection.access_expires_at, now),
            relative(connection.last_refresh_at, now),
            _escaped(_problem(connection)),
        )
    return table


def connection_detail_table(connection: Connection, *, now: float | None = None) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows = [
        ("external id", _escaped(connection.external_id)),
        ("id", connection.id),
        ("status", _status_text(connection.status)),
        ("scope", _escaped(" ".join(connection.scope))),
        ("generation", str(connection.generation)),
        ("access token expires", _when(connection.access_expires_at, now)),
        ("refresh token", "stored" if connection.has_refresh_token else "none"),
        ("last refresh", _when(connection.last_refresh_at, now)),
        ("failures", str(connection.failure_count)),
        ("last error", _escaped(connection.last_error or "-")),
        ("reauth reason", _escaped(connection.reauth_reason or "-")),
        ("created", _when(connection.created_at, now)),
        ("updated", _when(connection.updated_at, now)),
    ]
    for key, value in sorted(connection.claims.items()):
        rows.append((f"claim {_escaped(key)}", _escaped(str(value))))
    for key, value in rows:
        table.add_row(key, value)
    return table


def _when(timestamp: float | None, now: float | None) -> str:
    if timestamp is None:
        return "-"
    return f"{iso(timestamp)} ({relative(timestamp, now)})"


def _escaped(text: str) -> str:
    from rich.markup import escape

    return escape(text)
