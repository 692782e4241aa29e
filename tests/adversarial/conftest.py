"""Fixtures of the adversarial suite: the service over a real manager (SQLite) and the sandbox.

- ``service``: a :class:`Service` bundle: settings against the ``sandbox`` fixture (callback
  ``https://testserver/callback``, admin keys ``ADMIN_KEYS``, return URLs allowed under
  ``VENDOR``), a manager on a fresh SQLite vault with an adjustable clock, the app in a
  ``TestClient`` (lifespan running, redirects not followed, base URL ``https://testserver``) and
  a ``ServiceDriver`` that plays the customer's browser through the real connect flow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cdconnect.manager import open_manager
from cdconnect.sandbox import SandboxServer
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


@pytest.fixture
def service(sandbox: SandboxServer, tmp_path: Path) -> Iterator[Service]:
    settings = service_settings(sandbox, tmp_path)
    clock = OffsetClock()
    with (
        open_manager(settings, clock=clock) as manager,
        TestClient(
            create_app(settings, manager), base_url="https://testserver", follow_redirects=False
        ) as client,
    ):
        yield Service(sandbox, settings, manager, client, clock, ServiceDriver(client, sandbox))
