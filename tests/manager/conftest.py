"""Fixtures for manager tests: a manager on a real database talking HTTPS to the sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from cdconnect.manager import ConnectionManager, ConnectResult, open_manager
from cdconnect.models import Event
from cdconnect.sandbox import SandboxServer, login
from cdconnect.settings import Settings, load_settings
from cdconnect.vault.crypto import KeyRing

BROKER = "broker@example.com"
CARRIER = "carrier@example.com"


@dataclass
class OffsetClock:
    """Real time plus an adjustable offset; picklable, so subprocesses can share the setting."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


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
    env = sandbox.env()
    values: dict[str, Any] = {
        "client_id": env["CDCONNECT_CLIENT_ID"],
        "client_secret": env["CDCONNECT_CLIENT_SECRET"],
        "service_client_id": env["CDCONNECT_SERVICE_CLIENT_ID"],
        "service_client_secret": env["CDCONNECT_SERVICE_CLIENT_SECRET"],
        "redirect_uri": env["CDCONNECT_REDIRECT_URI"],
        "issuer": sandbox.issuer,
        "ca_file": Path(sandbox.ca_file),
        "database_url": database_url,
        "data_dir": data_dir,
        "encryption_keys": keys,
        "allowed_return_urls": "https://app.example.com/cd/",
    }
    values.update(overrides)
    return load_settings(**values)


def settings_values(settings: Settings) -> dict[str, Any]:
    """Settings as plain values a spawned process can rebuild them from (``load_settings``)."""
    values: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if value is not None:
            values[name] = value
    return values


def connect(
    manager: ConnectionManager, sandbox: SandboxServer, external_id: str, email: str = BROKER
) -> ConnectResult:
    """Run the real authorize → login page → callback → exchange path."""
    start = manager.begin_connect(external_id)
    account = sandbox.config.account(email)
    assert account is not None
    with httpx.Client(verify=sandbox.client_ssl_context()) as http:
        callback = login(http, start.authorize_url, email, account.password)
    return manager.complete_connect(callback)


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
