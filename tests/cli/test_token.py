"""``cdconnect token``: the token alone on stdout; exit 3 and 4 for the two expected failures."""

from __future__ import annotations

import json

import httpx
import pytest

from cdconnect.cli.exits import ExitCode
from cdconnect.errors import ReauthorizationRequired
from cdconnect.manager import ConnectionManager
from cdconnect.sandbox import CARRIER_EMAIL, SandboxServer
from tests.cli.conftest import RunCli, RunSubprocess, error_lines
from tests.manager.conftest import CARRIER, connect


def listings_status(sandbox: SandboxServer, token: str) -> int:
    with sandbox.http_client() as http:
        response = http.get(
            "/marketplace/v1/listings", headers={"Authorization": f"Bearer {token}"}
        )
    return response.status_code


def test_token_prints_only_a_working_token(
    run_cli: RunCli, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "acme")
    result = run_cli("token", "acme")
    assert result.exit_code == 0, result.output
    token = result.stdout.removesuffix("\n")
    assert result.stdout == token + "\n" and "\n" not in token
    assert token == seed.access_token("acme").access_token.get_secret_value()
    assert listings_status(sandbox, token) == httpx.codes.OK


def test_token_json_has_expiry_and_scope(
    run_cli: RunCli, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "acme")
    result = run_cli("token", "acme", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    expected = seed.access_token("acme")
    assert data["access_token"] == expected.access_token.get_secret_value()
    assert data["scope"] == "marketplace offline_access"
    assert data["token_type"] == "Bearer"
    assert data["expires_at"].endswith("Z")
    assert 0 < data["expires_in"] <= 3600
    assert data["generation"] == expected.generation


def test_token_of_an_unknown_connection_exits_4(run_cli: RunCli, cli_env: dict[str, str]) -> None:
    result = run_cli("token", "nobody")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stdout == ""
    assert error_lines(result) == [
        "error: no connection for external id 'nobody' [connection_not_found]"
    ]


def test_token_needing_a_new_login_exits_3(
    run_cli: RunCli, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "trucker", CARRIER)
    sandbox.control.revoke_account(CARRIER_EMAIL)
    with pytest.raises(ReauthorizationRequired):
        seed.refresh("trucker", force=True)
    result = run_cli("token", "trucker")
    assert result.exit_code == ExitCode.REAUTH_REQUIRED
    assert result.stdout == ""
    (line,) = error_lines(result)
    assert "needs a new Central Dispatch login" in line and line.endswith("[reauth_required]")


def test_token_of_a_disconnected_connection_exits_3(
    run_cli: RunCli, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "acme")
    seed.disconnect("acme")
    result = run_cli("token", "acme")
    assert result.exit_code == ExitCode.REAUTH_REQUIRED
    assert result.stdout == ""


def test_token_as_a_real_process_refreshes_an_expired_token(
    run_subprocess: RunSubprocess, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "acme")
    before = seed.access_token("acme")
    # One hour later on the sandbox: the stored access token is rejected by the API...
    sandbox.control.set_clock_offset(3700)
    assert listings_status(sandbox, before.access_token.get_secret_value()) == 401
    # ...but the CLI's clock is real time, so force the point by refreshing through the CLI.
    refreshed = run_subprocess("connections", "refresh", "acme")
    assert refreshed.returncode == 0, refreshed.stderr
    result = run_subprocess("token", "acme")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token != before.access_token.get_secret_value()
    assert listings_status(sandbox, token) == httpx.codes.OK
    assert sandbox.control.counters().calls("refresh_token", "ok") == 1


def test_token_as_a_real_process_reports_not_found(
    run_subprocess: RunSubprocess, cli_env: dict[str, str]
) -> None:
    result = run_subprocess("token", "nobody")
    assert result.returncode == ExitCode.NOT_FOUND
    assert result.stdout == ""
    assert "error: no connection for external id 'nobody'" in result.stderr
    assert "Traceback" not in result.stderr
