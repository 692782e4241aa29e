"""cdconnect: connect Central Dispatch accounts once, keep their tokens alive safely.

The public API is importable from here; it is loaded lazily so that ``cdconnect.sandbox`` (which
must stand alone) and the CLI start without importing the whole client side.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ConnectionManager": "cdconnect.manager",
    "CDConnectAuth": "cdconnect.manager",
    "ConnectResult": "cdconnect.manager",
    "ConnectStart": "cdconnect.manager",
    "KeepAliveSummary": "cdconnect.manager",
    "open_manager": "cdconnect.manager",
    "Settings": "cdconnect.settings",
    "load_settings": "cdconnect.settings",
    "AccessToken": "cdconnect.models",
    "Connection": "cdconnect.models",
    "ConnectionStatus": "cdconnect.models",
    "Event": "cdconnect.models",
    "EventType": "cdconnect.models",
    "CDConnectError": "cdconnect.errors",
    "ReauthorizationRequired": "cdconnect.errors",
}

__all__ = [
    "AccessToken",
    "CDConnectAuth",
    "CDConnectError",
    "ConnectResult",
    "ConnectStart",
    "Connection",
    "ConnectionManager",
    "ConnectionStatus",
    "Event",
    "EventType",
    "KeepAliveSummary",
    "ReauthorizationRequired",
    "Settings",
    "load_settings",
    "open_manager",
]

if TYPE_CHECKING:
    from cdconnect.errors import CDConnectError, ReauthorizationRequired
    from cdconnect.manager import (
        CDConnectAuth,
        ConnectionManager,
        ConnectResult,
        ConnectStart,
        KeepAliveSummary,
        open_manager,
    )
    from cdconnect.models import AccessToken, Connection, ConnectionStatus, Event, EventType
    from cdconnect.settings import Settings, load_settings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cdconnect' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
