"""``POST /connect/revocation`` (RFC 7009)."""

from __future__ import annotations

import httpx

from cdconnect.sandbox import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SandboxConfig, SandboxState
from cdconnect.sandbox.config import ClientRegistration
from tests.sandbox.helpers import (
    DEMO_AUTH,
    IN_PROCESS_BASE,
    AppFactory,
    ClientOpener,
    connect,
    refresh,
)


def _revoke(
    client: httpx.Client, token: str | None, auth: tuple[str, str] = DEMO_AUTH, **extra: str
) -> httpx.Response:
    form = {"client_id": auth[0], "client_secret": auth[1], **extra}
    if token is not None:
        form["token"] = token
    return client.post("/connect/revocation", data=form)


def test_revoking_a_refresh_token_revokes_its_grant(
    client: httpx.Client, state: SandboxState
) -> None:
    first = connect(client, IN_PROCESS_BASE)
    second = refresh(client, first["refresh_token"]).json()

    # Revoking even an old (consumed) token of the chain ends the grant.
    response = _revoke(client, first["refresh_token"], token_type_hint="refresh_token")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert refresh(client, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert state.grants_json()[0]["revoked_reason"] == "revoked_by_client"
    assert state.counters.as_json()["revocation_calls"] == {"ok": 1}


def test_unknown_tokens_and_access_tokens_are_accepted_and_ignored(client: httpx.Client) -> None:
    body = connect(client, IN_PROCESS_BASE)

    assert _revoke(client, "no-such-token").status_code == 200
    assert _revoke(client, body["access_token"], token_type_hint="access_token").status_code == 200
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_another_clients_token_is_not_revoked(
    make_app: AppFactory, open_client: ClientOpener, config: SandboxConfig
) -> None:
    other = ClientRegistration("cdconnect-other", "other-secret")
    client = open_client(make_app(clients=config.with_clients([other]).clients))
    body = connect(client, IN_PROCESS_BASE)

    response = _revoke(client, body["refresh_token"], auth=("cdconnect-other", "other-secret"))

    assert response.status_code == 200
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_revocation_needs_client_authentication(client: httpx.Client) -> None:
    body = connect(client, IN_PROCESS_BASE)

    response = _revoke(client, body["refresh_token"], auth=(DEMO_CLIENT_ID, "wrong"))
    basic = client.post("/connect/revocation", data={"token": "x"}, auth=(DEMO_CLIENT_ID, "wrong"))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert basic.status_code == 401
    assert "www-authenticate" in basic.headers
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_revocation_needs_a_token_and_a_form(client: httpx.Client) -> None:
    missing = _revoke(client, None)
    as_json = client.post(
        "/connect/revocation",
        json={"token": "x", "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET},
    )

    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    assert as_json.json()["error"] == "invalid_request"
