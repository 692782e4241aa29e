"""The ``/_sandbox`` control API (in-process) and the fault switches' effects."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cdconnect.sandbox import BROKER_EMAIL, CARRIER_EMAIL, SandboxState
from tests.sandbox.helpers import (
    IN_PROCESS_BASE,
    AppFactory,
    ClientOpener,
    authorize_url,
    claims_of,
    connect,
    refresh,
)

FAULTS_OFF = {
    "latency": 0.0,
    "error_rate": 0.0,
    "error_with_body": True,
    "drop_after_commit": 0,
    "hang_after_commit": 0,
    "granted_scope": None,
    "hostile": None,
    "hostile_count": 0,
    "hostile_commit": None,
}


def _json(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_counters_start_at_zero(client: httpx.Client) -> None:
    assert _json(client.get("/_sandbox/counters")) == {
        "token_calls": {},
        "revocation_calls": {},
        "refresh_reuse": 0,
        "code_reuse": 0,
        "refreshes_by_grant": {},
    }


def test_counters_reset_alone_keeps_grants(client: httpx.Client) -> None:
    body = connect(client, IN_PROCESS_BASE)

    after = _json(client.post("/_sandbox/counters/reset"))

    assert after["token_calls"] == {}
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_faults_can_be_read_and_changed_partially(client: httpx.Client) -> None:
    assert _json(client.get("/_sandbox/faults")) == FAULTS_OFF

    changed = _json(
        client.post("/_sandbox/faults", json={"latency": 0.01, "granted_scope": "marketplace"})
    )

    assert changed == {**FAULTS_OFF, "latency": 0.01, "granted_scope": "marketplace"}
    cleared = _json(client.post("/_sandbox/faults", json={"granted_scope": None}))
    assert cleared == {**FAULTS_OFF, "latency": 0.01}


@pytest.mark.parametrize(
    "body",
    [
        {"error_rate": 1.5},
        {"latency": -1},
        {"drop_after_commit": -1},
        {"latency": None},
        {"granted_scope": "  "},
        {"no_such_switch": 1},
        {"error_rate": "a lot"},
    ],
)
def test_bad_fault_values_are_422(client: httpx.Client, body: dict[str, Any]) -> None:
    response = client.post("/_sandbox/faults", json=body)

    assert response.status_code == 422
    assert _json(client.get("/_sandbox/faults")) == FAULTS_OFF


def test_error_rate_with_body_is_503_oauth_json_and_consumes_nothing(
    client: httpx.Client, state: SandboxState
) -> None:
    body = connect(client, IN_PROCESS_BASE)
    _json(client.post("/_sandbox/faults", json={"error_rate": 1}))

    failed = refresh(client, body["refresh_token"])

    assert failed.status_code == 503
    assert failed.json()["error"] == "temporarily_unavailable"
    assert failed.headers["cache-control"] == "no-store"
    _json(client.post("/_sandbox/faults", json={"error_rate": 0}))
    assert refresh(client, body["refresh_token"]).status_code == 200
    assert state.counters.as_json()["token_calls"]["refresh_token"] == {"fault_5xx": 1, "ok": 1}


def test_error_rate_without_body_is_a_bare_502(client: httpx.Client) -> None:
    body = connect(client, IN_PROCESS_BASE)
    _json(client.post("/_sandbox/faults", json={"error_rate": 1, "error_with_body": False}))

    failed = refresh(client, body["refresh_token"])

    assert failed.status_code == 502
    assert failed.headers["content-type"].startswith("text/html")
    _json(client.post("/_sandbox/faults", json={"error_rate": 0}))
    assert refresh(client, body["refresh_token"]).status_code == 200


def test_latency_still_answers(client: httpx.Client, state: SandboxState) -> None:
    _json(client.post("/_sandbox/faults", json={"latency": 0.01}))

    body = connect(client, IN_PROCESS_BASE)

    assert refresh(client, body["refresh_token"]).status_code == 200
    assert state.counters.as_json()["token_calls"]["refresh_token"] == {"ok": 1}


def test_drop_after_commit_in_process_consumes_and_raises(
    client: httpx.Client, state: SandboxState
) -> None:
    body = connect(client, IN_PROCESS_BASE)
    _json(client.post("/_sandbox/faults", json={"drop_after_commit": 1}))

    with pytest.raises(httpx.RemoteProtocolError):
        refresh(client, body["refresh_token"])

    assert refresh(client, body["refresh_token"]).json()["error"] == "invalid_grant"
    counters = state.counters.as_json()
    assert counters["token_calls"]["refresh_token"] == {"dropped": 1, "invalid_grant": 1}
    assert sum(counters["refreshes_by_grant"].values()) == 1
    assert _json(client.get("/_sandbox/faults"))["drop_after_commit"] == 0


def test_drops_apply_only_to_successful_refreshes(client: httpx.Client) -> None:
    body = connect(client, IN_PROCESS_BASE)
    _json(client.post("/_sandbox/faults", json={"drop_after_commit": 1}))

    assert refresh(client, "unknown").status_code == 400
    connect(client, IN_PROCESS_BASE)  # codes are never dropped

    with pytest.raises(httpx.RemoteProtocolError):
        refresh(client, body["refresh_token"])


def test_revoke_account(client: httpx.Client) -> None:
    broker = connect(client, IN_PROCESS_BASE, email=BROKER_EMAIL)
    connect(client, IN_PROCESS_BASE, email=BROKER_EMAIL)
    carrier = connect(client, IN_PROCESS_BASE, email=CARRIER_EMAIL)

    result = _json(client.post("/_sandbox/accounts/revoke", json={"email": BROKER_EMAIL}))

    assert result == {"revoked_grants": 2}
    assert refresh(client, broker["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(client, carrier["refresh_token"]).status_code == 200
    assert (
        client.post("/_sandbox/accounts/revoke", json={"email": "x@example.com"}).status_code == 404
    )


def test_grants_can_be_listed_and_revoked(client: httpx.Client) -> None:
    body = connect(client, IN_PROCESS_BASE)
    grant_id = claims_of(body["access_token"])["sid"]

    [grant] = _json(client.get("/_sandbox/grants"))
    assert grant == {
        "grant_id": grant_id,
        "client_id": "cdconnect-demo",
        "account": BROKER_EMAIL,
        "scope": "marketplace offline_access",
        "created_at": grant["created_at"],
        "rotations": 0,
        "has_refresh_token": True,
        "revoked": False,
        "revoked_reason": None,
    }
    assert body["refresh_token"] not in str(grant)

    assert _json(client.post(f"/_sandbox/grants/{grant_id}/revoke")) == {"revoked": True}
    assert _json(client.post(f"/_sandbox/grants/{grant_id}/revoke")) == {"revoked": False}
    assert client.post("/_sandbox/grants/nope/revoke").status_code == 404
    assert refresh(client, body["refresh_token"]).json()["error"] == "invalid_grant"


def test_clock_offset(client: httpx.Client) -> None:
    before = _json(client.get("/_sandbox/clock"))

    after = _json(client.post("/_sandbox/clock", json={"offset": 7200}))

    assert before["offset"] == 0
    assert after["offset"] == 7200
    assert after["now"] == before["now"] + 7200  # the fake clock did not move


def test_redirect_uris_can_be_added_and_survive_reset(client: httpx.Client) -> None:
    uri = "http://127.0.0.1:50123/cb"
    assert client.get(authorize_url(IN_PROCESS_BASE, redirect_uri=uri)).status_code == 400

    added = _json(
        client.post("/_sandbox/clients/cdconnect-demo/redirect-uris", json={"redirect_uri": uri})
    )
    _json(client.post("/_sandbox/reset"))

    assert uri in added["redirect_uris"]
    assert client.get(authorize_url(IN_PROCESS_BASE, redirect_uri=uri)).status_code == 200
    missing = client.post("/_sandbox/clients/nobody/redirect-uris", json={"redirect_uri": uri})
    assert missing.status_code == 404


def test_reset_forgets_everything(client: httpx.Client, state: SandboxState) -> None:
    body = connect(client, IN_PROCESS_BASE)
    _json(client.post("/_sandbox/faults", json={"latency": 0.5}))
    _json(client.post("/_sandbox/clock", json={"offset": 60}))

    assert _json(client.post("/_sandbox/reset")) == {"reset": True}

    assert _json(client.get("/_sandbox/faults")) == FAULTS_OFF
    assert _json(client.get("/_sandbox/clock"))["offset"] == 0
    assert _json(client.get("/_sandbox/grants")) == []
    assert refresh(client, body["refresh_token"]).json()["error"] == "invalid_grant"
    assert state.counters.as_json()["token_calls"] == {"refresh_token": {"invalid_grant": 1}}


def test_hangs_can_be_released_when_none_are_waiting(client: httpx.Client) -> None:
    assert _json(client.post("/_sandbox/hangs/release")) == {"released": True}


def test_the_control_api_can_be_left_unmounted(
    make_app: AppFactory, open_client: ClientOpener
) -> None:
    client = open_client(make_app(control_api_enabled=False))

    assert client.get("/_sandbox/counters").status_code == 404
    assert client.post("/_sandbox/reset").status_code == 404
