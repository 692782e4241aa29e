"""The command line as a whole: help, usage errors, configuration and database failures."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cdconnect import __version__
from cdconnect.cli.exits import ExitCode
from cdconnect.cli.runtime import env_file_overrides
from tests.cli.conftest import RunCli, clear_settings_env, error_lines

COMMANDS = [
    ["demo"],
    ["sandbox"],
    ["serve"],
    ["worker"],
    ["login"],
    ["token"],
    ["doctor"],
    ["connections"],
    ["connections", "list"],
    ["connections", "show"],
    ["connections", "refresh"],
    ["connections", "disconnect"],
    ["keys"],
    ["keys", "generate"],
    ["keys", "rotate"],
]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(run_cli: RunCli, command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout
    assert "Usage:" in result.stdout


def test_top_level_help_lists_every_command(run_cli: RunCli) -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for name in ("demo", "sandbox", "serve", "worker", "login", "token", "connections", "keys"):
        assert name in result.stdout
    assert "doctor" in result.stdout


def test_version(run_cli: RunCli) -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"cdconnect {__version__}\n"


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["token"],
        ["worker", "--batch", "0"],
        ["connections", "list", "--status", "bogus"],
    ],
    ids=["unknown command", "missing argument", "out of range", "bad choice"],
)
def test_usage_errors_exit_2(run_cli: RunCli, args: list[str]) -> None:
    result = run_cli(*args)
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""


def test_missing_configuration_prints_one_line_per_problem(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_settings_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    result = run_cli("token", "acme")
    assert result.exit_code == ExitCode.ERROR
    assert result.stdout == ""
    lines = error_lines(result)
    assert "error: CDCONNECT_CLIENT_ID is missing [configuration_error]" in lines
    assert "error: CDCONNECT_CLIENT_SECRET is missing [configuration_error]" in lines
    assert "error: CDCONNECT_REDIRECT_URI is missing [configuration_error]" in lines
    assert "Traceback" not in result.output


def test_insecure_issuer_is_a_configuration_error(
    run_cli: RunCli, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDCONNECT_ISSUER", "http://id.example.com")
    result = run_cli("connections", "list")
    assert result.exit_code == ExitCode.ERROR
    (line,) = error_lines(result)
    assert line.startswith("error: CDCONNECT_ISSUER")
    assert "https" in line


def test_unreachable_database_is_one_error_line(
    run_cli: RunCli, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{closed_port()}/cdconnect"
    monkeypatch.setenv("CDCONNECT_DATABASE_URL", url)
    result = run_cli("connections", "list")
    assert result.exit_code == ExitCode.ERROR
    (line,) = error_lines(result)
    assert line.endswith("[store_error]")
    assert "refused" in line.lower()
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


def test_invalid_external_id_is_a_usage_error(run_cli: RunCli, cli_env: dict[str, str]) -> None:
    result = run_cli("token", "x" * 1000)
    assert result.exit_code == ExitCode.USAGE
    assert error_lines(result)[0].endswith("[invalid_input]")


def test_env_file_supplies_settings(
    run_cli: RunCli, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "cdconnect.env"
    env_file.write_text("".join(f"{k}='{v}'\n" for k, v in cli_env.items()), encoding="utf-8")
    clear_settings_env(monkeypatch)
    assert run_cli("connections", "list").exit_code == ExitCode.ERROR
    result = run_cli("--env-file", str(env_file), "connections", "list", "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout == "[]\n"


def test_missing_env_file_is_a_usage_error(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("--env-file", str(tmp_path / "absent.env"), "connections", "list")
    assert result.exit_code == ExitCode.USAGE


def test_env_file_overrides_yield_to_the_environment(tmp_path: Path) -> None:
    env_file = tmp_path / "x.env"
    env_file.write_text(
        "CDCONNECT_CLIENT_ID=from-file\n"
        "CDCONNECT_SCOPE=marketplace\n"
        "CDCONNECT_NO_SUCH_SETTING=1\n"
        "CDCONNECT_ISSUER=\n"
        "OTHER_APP_SETTING=ignored\n",
        encoding="utf-8",
    )
    overrides, unknown = env_file_overrides(env_file, {"CDCONNECT_SCOPE": "membership"})
    assert overrides == {"client_id": "from-file"}
    assert unknown == ["CDCONNECT_NO_SUCH_SETTING"]


def test_unknown_settings_in_the_env_file_are_warned_about(
    run_cli: RunCli, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env_file = tmp_path / "typo.env"
    env_file.write_text("CDCONNECT_CLIENT_SECERT=oops\n", encoding="utf-8")
    result = run_cli("--env-file", str(env_file), "connections", "list", "--json")
    assert result.exit_code == 0
    assert "ignoring unknown setting CDCONNECT_CLIENT_SECERT" in result.stderr


VAULT_COMMANDS = [
    ["token", "acme"],
    ["login", "acme", "--no-browser"],
    ["worker", "--once"],
    ["connections", "list"],
    ["connections", "show", "acme"],
    ["connections", "refresh", "acme"],
    ["connections", "refresh", "--all"],
    ["connections", "disconnect", "acme", "--yes"],
    ["keys", "rotate"],
]


@pytest.mark.parametrize("command", VAULT_COMMANDS, ids=" ".join)
def test_every_vault_command_reports_bad_configuration(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    clear_settings_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CDCONNECT_CLIENT_ID", "x")
    monkeypatch.setenv("CDCONNECT_CLIENT_SECRET", "y")
    monkeypatch.setenv("CDCONNECT_REDIRECT_URI", "ftp://example.com/callback")
    result = run_cli(*command)
    assert result.exit_code == ExitCode.ERROR
    (line,) = error_lines(result)
    assert line.startswith("error: CDCONNECT_REDIRECT_URI") and "Traceback" not in result.output
    assert result.stdout == ""


@pytest.mark.parametrize("command", VAULT_COMMANDS, ids=" ".join)
def test_every_vault_command_reports_an_unreachable_database(
    run_cli: RunCli, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/cdconnect"
    monkeypatch.setenv("CDCONNECT_DATABASE_URL", url)
    result = run_cli(*command)
    assert result.exit_code == ExitCode.ERROR
    (line,) = error_lines(result)
    assert line.endswith("[store_error]") and "Traceback" not in result.output
    assert result.stdout == ""
