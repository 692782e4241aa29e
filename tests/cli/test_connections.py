"""``cdconnect connections``: list, show, refresh (one or all) and disconnect."""

from __future__ import annotations

import json

import pytest

from cdconnect.cli.exits import ExitCode
from cdconnect.errors import ReauthorizationRequired
from cdconnect.manager import ConnectionManager
from cdconnect.models import ConnectionStatus
from cdconnect.sandbox import CARRIER_EMAIL, SandboxServer
from tests.cli.conftest import RunCli, error_lines
from tests.manager.conftest import CARRIER, connect


@pytest.fixture
def two_customers(seed: ConnectionManager, sandbox: SandboxServer) -> ConnectionManager:
    """``acme`` (active) and ``trucker`` (reauth_required after a password change)."""
    connect(seed, sandbox, "acme")
    connect(seed, sandbox, "trucker", CARRIER)
    sandbox.control.revoke_account(CARRIER_EMAIL)
    with pytest.raises(ReauthorizationRequired):
        seed.refresh("trucker", force=True)
    return seed


def test_list_shows_a_table_of_connections(
    run_cli: RunCli, two_customers: ConnectionManager
) -> None:
    result = run_cli("connections", "list")
    assert result.exit_code == 0, result.output
    acme_line = next(line for line in result.stdout.splitlines() if "acme" in line)
    trucker_line = next(line for line in result.stdout.splitlines() if "trucker" in line)
    assert "active" in acme_line
    assert "reauth_required" in trucker_line and "grant_revoked" in trucker_line


def test_list_json_and_status_filter(run_cli: RunCli, two_customers: ConnectionManager) -> None:
    everything = json.loads(run_cli("connections", "list", "--json").stdout)
    assert [c["external_id"] for c in everything] == ["acme", "trucker"]
    assert everything[1]["reauth_reason"] == "grant_revoked"
    assert "access_token" not in everything[0] and "refresh_token" not in everything[0]
    result = run_cli("connections", "list", "--status", "reauth_required", "--json")
    assert [c["external_id"] for c in json.loads(result.stdout)] == ["trucker"]
    limited = run_cli("connections", "list", "--limit", "1", "--json")
    assert [c["external_id"] for c in json.loads(limited.stdout)] == ["acme"]


def test_list_of_an_empty_vault_says_so_on_stderr(run_cli: RunCli, cli_env: dict[str, str]) -> None:
    result = run_cli("connections", "list")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no connections" in result.stderr


def test_show_never_reveals_tokens(
    run_cli: RunCli, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "acme")
    token = seed.access_token("acme").access_token.get_secret_value()
    human = run_cli("connections", "show", "acme")
    data = json.loads(run_cli("connections", "show", "acme", "--json").stdout)
    assert human.exit_code == 0 and "active" in human.stdout
    assert data["status"] == "active" and data["generation"] == 1
    assert data["claims"]["customer_id"] == "100001"
    assert token not in human.output and token not in json.dumps(data)


def test_show_unknown_connection_exits_4(run_cli: RunCli, cli_env: dict[str, str]) -> None:
    result = run_cli("connections", "show", "nobody")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert error_lines(result)[0].endswith("[connection_not_found]")


def test_refresh_one_rotates_once(
    run_cli: RunCli, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "acme")
    result = run_cli("connections", "refresh", "acme")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("refreshed acme: generation 2")
    assert seed.get_connection("acme").generation == 2
    assert sandbox.control.counters().calls("refresh_token", "ok") == 1


def test_refresh_of_a_dead_grant_exits_3(run_cli: RunCli, two_customers: ConnectionManager) -> None:
    result = run_cli("connections", "refresh", "trucker")
    assert result.exit_code == ExitCode.REAUTH_REQUIRED


def test_refresh_all_refreshes_every_active_connection(
    run_cli: RunCli, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    for name in ("a1", "a2", "a3"):
        connect(seed, sandbox, name)
    result = run_cli("connections", "refresh", "--all", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"refreshed": 3, "reauth_required": [], "failed": {}}
    assert [seed.get_connection(n).generation for n in ("a1", "a2", "a3")] == [2, 2, 2]


def test_refresh_all_exits_3_when_a_grant_died_meanwhile(
    run_cli: RunCli, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "acme")
    connect(seed, sandbox, "trucker", CARRIER)
    sandbox.control.revoke_account(CARRIER_EMAIL)
    result = run_cli("connections", "refresh", "--all")
    assert result.exit_code == ExitCode.REAUTH_REQUIRED
    assert "refreshed 1, reauth required 1, failed 0" in result.stderr
    assert seed.get_connection("trucker").status is ConnectionStatus.REAUTH_REQUIRED


@pytest.mark.parametrize("args", [[], ["acme", "--all"]], ids=["neither", "both"])
def test_refresh_needs_exactly_one_target(
    run_cli: RunCli, cli_env: dict[str, str], args: list[str]
) -> None:
    result = run_cli("connections", "refresh", *args)
    assert result.exit_code == ExitCode.USAGE
    assert error_lines(result) == ["error: give either an EXTERNAL_ID or --all"]


def test_disconnect_asks_first(
    run_cli: RunCli, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "acme")
    refused = run_cli("connections", "disconnect", "acme", input="n\n")
    assert refused.exit_code == ExitCode.ERROR
    assert "Disconnect 'acme'?" in refused.stderr
    assert seed.get_connection("acme").status is ConnectionStatus.ACTIVE
    accepted = run_cli("connections", "disconnect", "acme", input="yes\n")
    assert accepted.exit_code == 0
    assert accepted.stdout == "disconnected acme\n"
    assert seed.get_connection("acme").status is ConnectionStatus.DISCONNECTED


def test_disconnect_with_yes_and_json(
    run_cli: RunCli, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "acme")
    result = run_cli("connections", "disconnect", "acme", "--yes", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["status"] == "disconnected" and data["has_refresh_token"] is False


def test_disconnect_unknown_connection_exits_4_without_asking(
    run_cli: RunCli, cli_env: dict[str, str]
) -> None:
    result = run_cli("connections", "disconnect", "nobody")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "Disconnect" not in result.stderr
