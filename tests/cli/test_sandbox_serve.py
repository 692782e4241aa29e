"""``cdconnect sandbox`` (a real foreground process) and ``cdconnect serve`` (help, bad config)."""

from __future__ import annotations

import shlex
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cdconnect.cli.exits import ExitCode
from cdconnect.sandbox import DEMO_CLIENT_ID
from tests.cli.conftest import SUBPROCESS_TIMEOUT, RunCli, clear_settings_env, error_lines


def parse_exports(lines: list[str]) -> dict[str, str]:
    exports: dict[str, str] = {}
    for line in lines:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            exports[name] = shlex.split(value)[0]
    return exports


def test_sandbox_serves_until_sigterm_and_prints_exports(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "cdconnect.cli", "sandbox", "--port", "0", "--access-ttl", "120"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        while not any(line.startswith("export CDCONNECT_CA_FILE=") for line in lines):
            line = process.stdout.readline()
            assert line, (
                f"the sandbox exited early: {process.stderr.read() if process.stderr else ''}"
            )
            lines.append(line.rstrip("\n"))
        exports = parse_exports(lines)
        assert exports["CDCONNECT_CLIENT_ID"] == DEMO_CLIENT_ID
        assert exports["CDCONNECT_CA_FILE"] == exports["SSL_CERT_FILE"]
        context = ssl.create_default_context(cafile=exports["CDCONNECT_CA_FILE"])
        response = httpx.post(
            exports["CDCONNECT_ISSUER"] + "/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": exports["CDCONNECT_SERVICE_CLIENT_ID"],
                "client_secret": exports["CDCONNECT_SERVICE_CLIENT_SECRET"],
            },
            verify=context,
        )
        assert response.status_code == 200
        assert response.json()["expires_in"] == 120
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0
    assert not Path(exports["CDCONNECT_CA_FILE"]).exists()  # its temporary CA is removed


def test_sandbox_rejects_a_bad_port(run_cli: RunCli) -> None:
    assert run_cli("sandbox", "--port", "70000").exit_code == ExitCode.USAGE


def test_serve_reports_bad_configuration(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_settings_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    result = run_cli("serve", "--port", "0")
    assert result.exit_code == ExitCode.ERROR
    assert "error: CDCONNECT_CLIENT_ID is missing [configuration_error]" in error_lines(result)
    assert result.stdout == ""


def test_serve_needs_both_tls_files(run_cli: RunCli, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not used", encoding="utf-8")
    result = run_cli("serve", "--certfile", str(cert))
    assert result.exit_code == ExitCode.USAGE
    assert error_lines(result) == ["error: give both --certfile and --keyfile, or neither"]


def test_serve_help_names_its_options(run_cli: RunCli) -> None:
    result = run_cli("serve", "--help")
    assert result.exit_code == 0
    for option in ("--host", "--port", "--certfile", "--keyfile", "--workers", "--json-logs"):
        assert option in result.stdout
