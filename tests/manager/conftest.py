"""Fixtures for manager tests: a manager on a real database talking HTTPS to the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cdconnect.manager import ConnectionManager, ConnectResult, open_manager
from cdconnect.models import Event
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings
from cdconnect.testing import (
    OffsetClock,
    connect_test_customer,
    sandbox_settings,
    settings_values,
)

# Re-exported for older imports; new code imports them from cdconnect.testing.
__all__ = [
    "BROKER",
    "CARRIER",
    "OffsetClock",
    "Recorder",
    "connect",
    "settings_for",
    "settings_values",
]
from cdconnect.vault.crypto import KeyRing

BROKER = "broker@example.com"
CARRIER = "carrier@example.com"


@dataclass
class Recorder:
    events: list[Event] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def types(self) -> list[str]:
        return [event.type.value for event in self.events]


def settings_for(
    sandbox: SandboxServer, database_url: str, data_dir: Path, keys: str, **overrides: Any
) -> Settings:
    # Callers (the service tests) may override the allow-list.
    values: dict[str, Any] = {"allowed_return_urls": "https://app.example.com/cd/", **overrides}
    return sandbox_settings(
        sandbox, data_dir=data_dir, database_url=database_url, encryption_keys=keys, **values
    )


def connect(
    manager: ConnectionManager, sandbox: SandboxServer, external_id: str, email: str = BROKER
) -> ConnectResult:
    """Run the real authorize → login page → callback → exchange path."""
    return connect_test_customer(manager, sandbox, external_id, email)


@pytest.fixture
def keys() -> str:
    return KeyRing.generate().export()


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def settings(sandbox: SandboxServer, database_url: str, tmp_path: Path, keys: str) -> Settings:
    return settings_for(sandbox, database_url, tmp_path / "data", keys)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def manager(
    settings: Settings, clock: OffsetClock, recorder: Recorder
) -> Iterator[ConnectionManager]:
    with open_manager(settings, clock=clock) as mgr:
        mgr.on_event(recorder)
        yield mgr
