"""Helpers for running cdconnect against the built-in sandbox: the demo, tests and benchmarks.

Also useful in a vendor's own integration tests: start a ``cdconnect.sandbox.SandboxServer``,
build settings for it with :func:`sandbox_settings`, and connect test customers with
:func:`connect_test_customer` through the real authorize → login page → callback path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cdconnect.manager import ConnectionManager, ConnectResult
from cdconnect.sandbox import SandboxServer, login
from cdconnect.settings import Settings, load_settings
from cdconnect.vault.crypto import KeyRing


@dataclass
class OffsetClock:
    """Real time plus an adjustable offset: lets an hour pass in an instant. Picklable, so a
    spawned process can be given the same clock."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def sandbox_settings(
    sandbox: SandboxServer,
    *,
    data_dir: Path,
    database_url: str | None = None,
    encryption_keys: str | None = None,
    **overrides: Any,
) -> Settings:
    """Settings for ``sandbox``, immune to the caller's environment.

    Every field is given explicitly, so a ``CDCONNECT_TOKEN_URL`` (or any other setting) in the
    environment or a ``.env`` file can never send these requests somewhere else. Without
    ``database_url`` the vault is the embedded SQLite file in ``data_dir``; without
    ``encryption_keys`` a fresh key is generated.
    """
    values: dict[str, Any] = {
        name: info.default for name, info in Settings.model_fields.items() if not info.is_required()
    }
    env = sandbox.env()
    values.update(
        client_id=env["CDCONNECT_CLIENT_ID"],
        client_secret=env["CDCONNECT_CLIENT_SECRET"],
        service_client_id=env["CDCONNECT_SERVICE_CLIENT_ID"],
        service_client_secret=env["CDCONNECT_SERVICE_CLIENT_SECRET"],
        redirect_uri=env["CDCONNECT_REDIRECT_URI"],
        issuer=sandbox.issuer,
        ca_file=Path(sandbox.ca_file),
        data_dir=data_dir,
        database_url=database_url,
        encryption_keys=encryption_keys or KeyRing.generate().export(),
    )
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


def connect_test_customer(
    manager: ConnectionManager, sandbox: SandboxServer, external_id: str, email: str
) -> ConnectResult:
    """Connect a sandbox test account through the real authorize → login → callback path."""
    start = manager.begin_connect(external_id)
    account = sandbox.config.account(email)
    if account is None:
        raise ValueError(f"the sandbox has no test account {email!r}")
    with httpx.Client(verify=sandbox.client_ssl_context()) as http:
        callback = login(http, start.authorize_url, email, account.password)
    return manager.complete_connect(callback)
