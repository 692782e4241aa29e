"""Fixtures of the adversarial suite: the service over a real manager (SQLite) and the sandbox.

- ``service``: a :class:`Service` bundle: settings against the ``sandbox`` fixture, a manager on
  a fresh SQLite vault with an adjustable clock, the app in a ``TestClient`` (lifespan running,
  redirects not followed, base URL ``https://testserver``) and a ``ServiceDriver`` that plays the
  customer's browser through the real connect flow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cdconnect.manager import open_manager
from cdconnect.sandbox import SandboxServer
from cdconnect.web import create_app
from tests.adversarial.helpers import Service
from tests.manager.conftest import OffsetClock
from tests.web.conftest import ServiceDriver, web_settings_for


@pytest.fixture
def service(sandbox: SandboxServer, tmp_path: Path) -> Iterator[Service]:
    settings = web_settings_for(sandbox, tmp_path)
    clock = OffsetClock()
    with (
        open_manager(settings, clock=clock) as manager,
        TestClient(
            create_app(settings, manager), base_url="https://testserver", follow_redirects=False
        ) as client,
    ):
        yield Service(sandbox, settings, manager, client, clock, ServiceDriver(client, sandbox))
