"""``SandboxControl`` against the running HTTPS sandbox."""

from __future__ import annotations

import httpx
import pytest

from cdconnect.sandbox import BROKER_EMAIL, CounterSnapshot, SandboxControl, SandboxServer
from tests.sandbox.helpers import authorize_url, claims_of, connect, refresh


def test_counters_reflect_token_calls(sandbox: SandboxServer) -> None:
    with sandbox.http_client() as http:
        body = connect(http, sandbox.issuer)
        refresh(http, body["refresh_token"])
        refresh(http, body["refresh_token"])

    counters = sandbox.control.counters()

    assert counters.calls("authorization_code") == 1
    assert counters.calls("refresh_token", "ok") == 1
    assert counters.calls("refresh_token", "invalid_grant") == 1
    assert counters.calls("refresh_token") == 2
    assert counters.calls("client_credentials") == 0
    assert counters.refresh_reuse == 1
    assert counters.code_reuse == 0
    assert counters.refreshes_by_grant == {claims_of(body["access_token"])["sid"]: 1}
    assert counters.successful_refreshes == 1


def test_reset_counters_and_reset(sandbox: SandboxServer) -> None:
    control = sandbox.control
    with sandbox.http_client() as http:
        body = connect(http, sandbox.issuer)

    control.reset_counters()
    assert control.counters() == CounterSnapshot()
    assert len(control.grants()) == 1

    control.reset()
    assert control.grants() == []
    with sandbox.http_client() as http:
        assert refresh(http, body["refresh_token"]).json()["error"] == "invalid_grant"


def test_set_faults_changes_only_what_is_given(sandbox: SandboxServer) -> None:
    control = sandbox.control

    control.set_faults(latency=0.01, error_rate=0.0)
    result = control.set_faults(drop_after_commit=2, granted_scope="marketplace")

    assert result == {
        "latency": 0.01,
        "error_rate": 0.0,
        "error_with_body": True,
        "drop_after_commit": 2,
        "hang_after_commit": 0,
        "granted_scope": "marketplace",
        "hostile": None,
        "hostile_count": 0,
        "hostile_commit": None,
    }
    assert control.faults() == result
    assert control.set_faults(granted_scope=None)["granted_scope"] is None


def test_bad_fault_values_raise(sandbox: SandboxServer) -> None:
    with pytest.raises(httpx.HTTPStatusError, match="422"):
        sandbox.control.set_faults(error_rate=2.0)


def test_revoke_account_and_grant(sandbox: SandboxServer) -> None:
    control = sandbox.control
    with sandbox.http_client() as http:
        first = connect(http, sandbox.issuer)
        second = connect(http, sandbox.issuer)

        assert control.revoke_grant(claims_of(first["access_token"])["sid"]) is True
        assert control.revoke_account(BROKER_EMAIL) == 1  # the other one

        assert refresh(http, second["refresh_token"]).json()["error"] == "invalid_grant"
    assert all(grant["revoked"] for grant in control.grants())


def test_clock_offset(sandbox: SandboxServer) -> None:
    control = sandbox.control

    control.set_clock_offset(3600)

    assert control.clock()["offset"] == 3600
    control.set_clock_offset(0)
    assert control.clock()["offset"] == 0


def test_add_redirect_uri(sandbox: SandboxServer) -> None:
    uri = "https://127.0.0.1:40001/after-login"

    uris = sandbox.control.add_redirect_uri(uri)

    assert uri in uris
    with sandbox.http_client() as http:
        assert http.get(authorize_url(sandbox.issuer, redirect_uri=uri)).status_code == 200


def test_a_standalone_control_client(sandbox: SandboxServer) -> None:
    with SandboxControl(sandbox.issuer + "/", verify=sandbox.client_ssl_context()) as control:
        assert control.base_url == sandbox.issuer
        assert control.counters().successful_refreshes == 0
