"""Fixtures for service tests: ``create_app`` over a real manager (SQLite) and the HTTPS sandbox.

- ``web_settings``: settings against the ``sandbox`` fixture, callback ``https://testserver/
  callback`` (the TestClient's host, registered in the sandbox), admin keys ``ADMIN_KEYS``,
  return URLs allowed under ``VENDOR``.
- ``manager``: a manager on a fresh SQLite vault with an adjustable clock (``clock``).
- ``client``: a ``TestClient`` of the app (lifespan running, redirects not followed).
- ``ServiceDriver`` (``driver`` fixture): drives a customer through the real connect flow:
  connect session → link → sandbox login page → callback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.sandbox import TEST_PASSWORD, SandboxServer, login
from cdconnect.settings import Settings
from cdconnect.testing import OffsetClock
from cdconnect.vault.crypto import KeyRing
from cdconnect.web import create_app
from tests.manager.conftest import BROKER, settings_for

ADMIN_KEY = "admin-key-0123456789abcdef"
OTHER_ADMIN_KEY = "second-admin-key-fedcba9876543210"
ADMIN_KEYS = f"{ADMIN_KEY},{OTHER_ADMIN_KEY}"
VENDOR = "https://vendor.example/cd/"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def web_settings_for(
    sandbox: SandboxServer, tmp_path: Path, keys: str | None = None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "redirect_uri": "https://testserver/callback",
        "admin_tokens": ADMIN_KEYS,
        "allowed_return_urls": VENDOR,
    }
    values.update(overrides)
    return settings_for(
        sandbox,
        f"sqlite:///{tmp_path / 'vault.db'}",
        tmp_path / "data",
        keys or KeyRing.generate().export(),
        **values,
    )


@pytest.fixture
def clock() -> OffsetClock:
    return OffsetClock()


@pytest.fixture
def web_settings(sandbox: SandboxServer, tmp_path: Path) -> Settings:
    return web_settings_for(sandbox, tmp_path)


@pytest.fixture
def manager(web_settings: Settings, clock: OffsetClock) -> Iterator[ConnectionManager]:
    with open_manager(web_settings, clock=clock) as opened:
        yield opened


@pytest.fixture
def app(web_settings: Settings, manager: ConnectionManager) -> FastAPI:
    return create_app(web_settings, manager)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as test_client:
        yield test_client


def path_of(url: str) -> str:
    """``/path?query`` of an absolute URL (the TestClient is addressed by path)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class ServiceDriver:
    """A customer's browser, played by httpx: service → sandbox login → service callback."""

    client: TestClient
    sandbox: SandboxServer

    def session(self, external_id: str, **body: Any) -> dict[str, Any]:
        response = self.client.post(
            "/api/connect-sessions", json={"external_id": external_id, **body}, headers=ADMIN
        )
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def authorize_url(self, connect_url: str) -> str:
        response: httpx.Response = self.client.get(path_of(connect_url))
        assert response.status_code == 302, response.text
        return response.headers["location"]

    def sign_in(self, authorize_url: str, *, email: str = BROKER, cancel: bool = False) -> str:
        """The callback URL the sandbox sends the browser back to."""
        with httpx.Client(verify=self.sandbox.client_ssl_context()) as http:
            return login(http, authorize_url, email, TEST_PASSWORD, cancel=cancel)

    def callback_url(self, external_id: str, *, cancel: bool = False, **body: Any) -> str:
        connect_url = self.session(external_id, **body)["connect_url"]
        return self.sign_in(self.authorize_url(connect_url), cancel=cancel)

    def finish(self, callback_url: str) -> httpx.Response:
        response: httpx.Response = self.client.get(path_of(callback_url))
        return response

    def connect(self, external_id: str, *, cancel: bool = False, **body: Any) -> httpx.Response:
        return self.finish(self.callback_url(external_id, cancel=cancel, **body))


@pytest.fixture
def driver(client: TestClient, sandbox: SandboxServer) -> ServiceDriver:
    return ServiceDriver(client, sandbox)
