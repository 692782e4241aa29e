"""Shared helpers of the adversarial suite: the service bundle and its invariant checks."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from fastapi.testclient import TestClient

from cdconnect.manager import ConnectionManager, ConnectResult
from cdconnect.sandbox import BROKER_EMAIL, SandboxServer
from cdconnect.settings import Settings
from cdconnect.testing import OffsetClock, connect_test_customer
from cdconnect.vault.api import ConnectionRow
from tests.web.conftest import ADMIN, ServiceDriver

#: Three base64url segments, the first two JSON objects: every access token the sandbox issues.
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")
#: The shape of the sandbox's (and Central Dispatch's) codes and refresh tokens.
OPAQUE_SHAPE = re.compile(r"[0-9A-Fa-f]{64}-1")

LISTINGS = "/marketplace/v2/listings"


def assert_no_token_shapes(text: str) -> None:
    """Nothing in ``text`` looks like an access token, a refresh token or a code."""
    assert JWT_SHAPE.search(text) is None, "an access token (JWT) is shown"
    assert OPAQUE_SHAPE.search(text) is None, "a refresh token or code is shown"


@dataclass
class Service:
    """The service app and everything behind it, for one test."""

    sandbox: SandboxServer
    settings: Settings
    manager: ConnectionManager
    client: TestClient
    #: The same app behind a client that percent-decodes paths once, like a real server.
    api: httpx.Client
    clock: OffsetClock
    driver: ServiceDriver

    def assert_healthy(self) -> None:
        """Liveness and readiness still answer 200 (database up, stored tokens decrypt)."""
        assert self.client.get("/healthz").status_code == 200
        ready = self.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"

    def connect_library(self, external_id: str) -> ConnectResult:
        """Connect through the library: begin → sandbox login → complete."""
        return connect_test_customer(self.manager, self.sandbox, external_id, BROKER_EMAIL)

    def row(self, external_id: str) -> ConnectionRow:
        row = self.manager.store.get_connection(external_id)
        assert row is not None, f"no connection stored for {external_id!r}"
        return row

    def assert_nothing_stored(self, external_id: str) -> None:
        response = self.client.get(f"/api/connections/{external_id}", headers=ADMIN)
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "connection_not_found"
        assert self.manager.store.get_connection(external_id) is None

    def set_hostile(self, kind: str, *, count: int = 1, commit: bool | None = None) -> None:
        self.sandbox.control.set_faults(hostile=kind, hostile_count=count, hostile_commit=commit)

    def listings_status(self, access_token: str) -> int:
        with httpx.Client(verify=self.sandbox.client_ssl_context()) as http:
            response = http.get(
                self.sandbox.issuer + LISTINGS,
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Accept": "application/vnd.coxauto.v2+json",
                },
            )
        return response.status_code
