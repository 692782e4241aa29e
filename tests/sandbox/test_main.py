"""``python -m cdconnect.sandbox`` and the importable ``run``."""

from __future__ import annotations

import io
import os
import queue
import shlex
import signal
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from cdconnect.sandbox import SandboxServer
from cdconnect.sandbox.main import build_config, export_lines, parse_args, run

READY_MARKER = "# Test accounts:"


def _read_until_ready(process: subprocess.Popen[str]) -> list[str]:
    """The lines printed up to the ready marker (read in a thread so a hang cannot block)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    printed: list[str] = []
    while not printed or not printed[-1].startswith(READY_MARKER):
        printed.append(lines.get(timeout=60))
    return printed


def _exports(lines: list[str]) -> dict[str, str]:
    env = {}
    for line in lines:
        if line.startswith("export "):
            [assignment] = shlex.split(line.removeprefix("export "))
            name, _, value = assignment.partition("=")
            env[name] = value
    return env


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_module_serves_https_and_prints_the_environment(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    command = [sys.executable, "-m", "cdconnect.sandbox", "--port", "0", "--access-ttl", "120"]
    command += ["--log-level", "warning", "--ca-dir", str(tmp_path / "ca")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        env = _exports(_read_until_ready(process))
        assert env["CDCONNECT_ISSUER"].startswith("https://127.0.0.1:")
        assert env["SSL_CERT_FILE"] == str(tmp_path / "ca" / "sandbox-ca.pem")
        assert env["CDCONNECT_CLIENT_ID"] == "cdconnect-demo"
        assert env["CDCONNECT_SERVICE_CLIENT_ID"] == "cdconnect-service"

        with httpx.Client(verify=_context(env["SSL_CERT_FILE"])) as http:
            response = http.post(
                env["CDCONNECT_ISSUER"] + "/connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": env["CDCONNECT_SERVICE_CLIENT_ID"],
                    "client_secret": env["CDCONNECT_SERVICE_CLIENT_SECRET"],
                },
            )
        assert response.status_code == 200
        assert response.json()["expires_in"] == 120
    finally:
        process.send_signal(stop_signal)
        returncode = process.wait(timeout=60)
    assert returncode == 0


def _context(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


def test_run_is_importable_and_stops_on_an_event() -> None:
    out = io.StringIO()
    stop = threading.Event()
    seen: list[SandboxServer] = []

    def ready(server: SandboxServer) -> None:
        seen.append(server)
        with server.http_client() as http:
            assert http.get("/.well-known/openid-configuration").status_code == 200
        stop.set()

    run("127.0.0.1", 0, out=out, stop=stop, on_ready=ready)

    [server] = seen
    printed = out.getvalue()
    assert f"export CDCONNECT_ISSUER={server.issuer}" in printed
    assert "broker@example.com" in printed


def test_build_config_applies_only_the_given_overrides() -> None:
    config = build_config(access_ttl=30, code_ttl=5, revoke_on_reuse=True)
    unchanged = build_config()

    assert (config.access_token_ttl, config.code_ttl, config.revoke_grant_on_reuse) == (30, 5, True)
    assert (unchanged.access_token_ttl, unchanged.code_ttl) == (3600, 60)
    assert unchanged.revoke_grant_on_reuse is False


def test_export_lines_quote_for_the_shell() -> None:
    assert export_lines({"A": "plain", "B": "two words", "C": "it's"}) == [
        "export A=plain",
        "export B='two words'",
        "export C='it'\"'\"'s'",
    ]


def test_arguments() -> None:
    args = parse_args(["--port", "0", "--revoke-on-reuse", "--code-ttl", "5"])

    assert args.port == 0 and args.revoke_on_reuse is True and args.code_ttl == 5
    assert parse_args([]).port == 9443
    assert parse_args([]).host == "127.0.0.1"
