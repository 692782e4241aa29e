"""Fixtures of the adversarial suite: the service over a real manager (SQLite) and the sandbox.

- ``service``: a :class:`Service` bundle: settings against the ``sandbox`` fixture (callback
  ``https://testserver/callback``, admin keys ``ADMIN_KEYS``, return URLs allowed under
  ``VENDOR``), a manager on a fresh SQLite vault with an adjustable clock, the app in a
  ``TestClient`` (lifespan running, redirects not followed, base URL ``https://testserver``), a
  ``ServiceDriver`` that plays the customer's browser through the real connect flow, and ``api``:
  a plain ``httpx.Client`` of the same app for requests whose path must reach it exactly as a
  server would decode it (Starlette's TestClient percent-decodes paths twice). After every test
  the fixture checks that ``/healthz`` and ``/readyz`` still answer 200.
- ``cd_http`` (session): the manager's HTTP client for Central Dispatch, built once by
  ``build_http_client``: building its TLS context costs tens of milliseconds per manager.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from cdconnect.manager import ConnectionManager, open_store
from cdconnect.oauth import build_http_client
from cdconnect.sandbox import SandboxServer
from cdconnect.sandbox.inprocess import in_process_client
from cdconnect.settings import Settings
from cdconnect.testing import OffsetClock, sandbox_settings
from cdconnect.web import create_app
from tests.adversarial.helpers import Service
from tests.web.conftest import ADMIN_KEYS, VENDOR, ServiceDriver


def service_settings(sandbox: SandboxServer, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'vault.db'}",
        "redirect_uri": "https://testserver/callback",
        "admin_tokens": ADMIN_KEYS,
        "allowed_return_urls": VENDOR,
    }
    values.update(overrides)
    return sandbox_settings(sandbox, data_dir=tmp_path / "data", **values)


@pytest.fixture(scope="session")
def cd_http(
    sandbox_server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    settings = service_settings(sandbox_server, tmp_path_factory.mktemp("cd-http"))
    with build_http_client(settings) as http:
        yield http


@pytest.fixture
def service(sandbox: SandboxServer, tmp_path: Path, cd_http: httpx.Client) -> Iterator[Service]:
    settings = service_settings(sandbox, tmp_path)
    clock = OffsetClock()
    with ConnectionManager(settings, open_store(settings), http=cd_http, clock=clock) as manager:
        app = create_app(settings, manager)
        with (
            TestClient(app, base_url="https://testserver", follow_redirects=False) as client,
            in_process_client(app, "https://testserver") as api,
        ):
            service = Service(
                sandbox, settings, manager, client, api, clock, ServiceDriver(client, sandbox)
            )
            yield service
            # Whatever a test threw at it, the service must still be alive and ready.
            service.assert_healthy()
