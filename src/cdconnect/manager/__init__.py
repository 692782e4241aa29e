"""The manager: the only layer that combines the protocol and the vault."""

from cdconnect.manager.auth import CDConnectAuth
from cdconnect.manager.connect import ConnectResult, ConnectSession, ConnectStart, OpenedConnect
from cdconnect.manager.core import ConnectionManager
from cdconnect.manager.factory import keyring_from_settings, open_manager, open_store
from cdconnect.manager.keepalive import KeepAliveSummary

__all__ = [
    "CDConnectAuth",
    "ConnectResult",
    "ConnectSession",
    "ConnectStart",
    "ConnectionManager",
    "KeepAliveSummary",
    "OpenedConnect",
    "keyring_from_settings",
    "open_manager",
    "open_store",
]
