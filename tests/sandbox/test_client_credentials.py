"""``grant_type=client_credentials``: the integrator acting as itself, with its own client."""

from __future__ import annotations

import httpx
import pytest

from cdconnect.sandbox import SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, SandboxState
from tests.sandbox.helpers import IN_PROCESS_BASE, claims_of

SERVICE = {"client_id": SERVICE_CLIENT_ID, "client_secret": SERVICE_CLIENT_SECRET}


def _token(client: httpx.Client, **extra: str) -> httpx.Response:
    return client.post(
        "/connect/token", data={"grant_type": "client_credentials", **SERVICE, **extra}
    )


def test_client_credentials_give_an_access_token_without_refresh_token(
    client: httpx.Client,
) -> None:
    response = _token(client, scope="marketplace")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "scope"}
    assert body["scope"] == "marketplace"
    claims = claims_of(body["access_token"])
    assert claims["client_id"] == SERVICE_CLIENT_ID
    assert claims["iss"] == IN_PROCESS_BASE
    assert "sub" not in claims and "customer_id" not in claims and "sid" not in claims


def test_without_scope_every_allowed_scope_is_granted(client: httpx.Client) -> None:
    body = _token(client).json()

    assert body["scope"].split() == [
        "marketplace",
        "fulfillment_api",
        "dispatchdocument_api",
        "membership",
        "event_api",
    ]


@pytest.mark.parametrize("scope", ["offline_access", "marketplace offline_access", "admin", " "])
def test_scopes_outside_the_clients_allow_list_are_refused(
    client: httpx.Client, scope: str
) -> None:
    response = _token(client, scope=scope)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_counted_under_their_grant_type(client: httpx.Client, state: SandboxState) -> None:
    _token(client)
    _token(client, scope="admin")

    assert state.counters.as_json()["token_calls"]["client_credentials"] == {
        "ok": 1,
        "invalid_scope": 1,
    }
