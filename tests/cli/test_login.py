"""``cdconnect login``: the authorize URL, a loopback redirect or a pasted URL, the stored grant."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cdconnect.cli.exits import ExitCode
from cdconnect.cli.loopback import LoopbackAddress, LoopbackReceiver, loopback_address
from cdconnect.cli.runtime import CliState
from cdconnect.manager import ConnectionManager
from cdconnect.models import ConnectionStatus
from cdconnect.sandbox import CARRIER_EMAIL, SandboxServer
from tests.cli.conftest import SUBPROCESS_TIMEOUT, RunCli, RunSubprocess, error_lines
from tests.cli.fake_browser import FakeBrowser

FAKE_BROWSER = Path(__file__).with_name("fake_browser.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def loopback_uri(
    sandbox: SandboxServer, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> str:
    """A loopback redirect URI on a free port, registered at the sandbox and configured."""
    uri = f"http://127.0.0.1:{free_port()}/callback"
    sandbox.control.add_redirect_uri(uri)
    monkeypatch.setenv("CDCONNECT_REDIRECT_URI", uri)
    return uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://127.0.0.1:8765/callback", LoopbackAddress("127.0.0.1", 8765, "/callback")),
        ("http://localhost:9000/cb?x=1", LoopbackAddress("127.0.0.1", 9000, "/cb")),
        ("http://[::1]:9000/", LoopbackAddress("::1", 9000, "/")),
        ("http://127.0.0.1/callback", LoopbackAddress("127.0.0.1", 80, "/callback")),
        ("https://127.0.0.1:8443/callback", None),
        ("http://app.example.com:8765/callback", None),
    ],
)
def test_loopback_address(uri: str, expected: LoopbackAddress | None) -> None:
    assert loopback_address(uri) == expected


def test_receiver_waits_for_the_redirect_path_only() -> None:
    with LoopbackReceiver(LoopbackAddress("127.0.0.1", 0, "/callback")) as receiver:
        base = f"http://127.0.0.1:{receiver.port}"
        assert httpx.get(f"{base}/favicon.ico").status_code == 404
        page = httpx.get(f"{base}/callback?code=c&state=s")
        assert page.status_code == 200 and "close this tab" in page.text
        assert receiver.wait(10) == "/callback?code=c&state=s"
        assert receiver.wait(0.01) is None


def test_login_through_the_loopback_redirect(
    run_cli: RunCli, sandbox: SandboxServer, loopback_uri: str, seed: ConnectionManager
) -> None:
    browser = FakeBrowser(verify=sandbox.client_ssl_context())
    result = run_cli("login", "acme", "--json", obj=CliState(open_browser=browser))
    assert result.exit_code == 0, result.output
    (opened,) = browser.opened
    assert opened.startswith(f"{sandbox.issuer}/connect/authorize?")
    assert opened in result.stderr  # the URL is shown too, for a browser on another screen
    assert browser.landed_on[0].startswith(loopback_uri + "?code=")
    data = json.loads(result.stdout)
    assert data["external_id"] == "acme" and data["status"] == "active"
    assert seed.get_connection("acme").status is ConnectionStatus.ACTIVE


def test_login_as_carrier_with_plain_output(
    run_cli: RunCli, sandbox: SandboxServer, loopback_uri: str, seed: ConnectionManager
) -> None:
    browser = FakeBrowser(verify=sandbox.client_ssl_context(), email=CARRIER_EMAIL)
    result = run_cli("login", "trucker", obj=CliState(open_browser=browser))
    assert result.exit_code == 0, result.output
    assert result.stdout == "connected trucker (active, scope 'marketplace offline_access')\n"
    assert seed.get_connection("trucker").claims["customer_id"] == "200002"


def test_cancel_on_the_login_page_is_an_error(
    run_cli: RunCli, sandbox: SandboxServer, loopback_uri: str, seed: ConnectionManager
) -> None:
    browser = FakeBrowser(verify=sandbox.client_ssl_context(), cancel=True)
    result = run_cli("login", "acme", obj=CliState(open_browser=browser))
    assert result.exit_code == ExitCode.ERROR
    assert result.stdout == ""
    (line,) = error_lines(result)
    assert "access_denied" in line
    assert seed.list_connections().items == []


def test_busy_loopback_port_is_a_clear_error(
    run_cli: RunCli, loopback_uri: str, sandbox: SandboxServer
) -> None:
    port = int(loopback_uri.rsplit(":", 1)[1].split("/")[0])
    browser = FakeBrowser(verify=sandbox.client_ssl_context())
    with socket.create_server(("127.0.0.1", port)):
        result = run_cli("login", "acme", obj=CliState(open_browser=browser))
    assert result.exit_code == ExitCode.ERROR
    assert f"cannot listen on 127.0.0.1:{port}" in error_lines(result)[0]
    assert browser.opened == []


def test_no_redirect_within_the_timeout(run_cli: RunCli, loopback_uri: str) -> None:
    result = run_cli("login", "acme", "--no-browser", "--timeout", "1")
    assert result.exit_code == ExitCode.ERROR
    assert error_lines(result) == ["error: no redirect arrived within 1 s; run the command again"]


def test_login_in_a_real_process_with_the_browser_from_BROWSER(
    run_subprocess: RunSubprocess,
    sandbox: SandboxServer,
    loopback_uri: str,
    seed: ConnectionManager,
) -> None:
    env = dict(os.environ)
    env["BROWSER"] = f"{sys.executable} {FAKE_BROWSER} %s"
    env["FAKE_BROWSER_CA"] = str(sandbox.ca_file)
    result = run_subprocess("login", "acme", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("connected acme (active")
    assert seed.get_connection("acme").status is ConnectionStatus.ACTIVE


def read_until(marker: str, process: subprocess.Popen[str]) -> str:
    """Read stderr until ``marker`` shows up (generous deadline; the process may not hang)."""
    assert process.stderr is not None
    seen = ""
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT
    while marker not in seen:
        assert time.monotonic() < deadline and process.poll() is None, seen
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if ready:
            seen += os.read(process.stderr.fileno(), 4096).decode()
    return seen


def test_login_by_pasting_the_url_in_a_real_process(
    sandbox: SandboxServer, cli_env: dict[str, str], seed: ConnectionManager, tmp_path: Path
) -> None:
    # The configured redirect URI is https: the user pastes where the browser landed.
    process = subprocess.Popen(
        [sys.executable, "-m", "cdconnect.cli", "login", "acme", "--no-browser"],
        env=dict(os.environ),
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        shown = read_until("Paste the full URL", process)
        url = next(w for w in shown.split() if w.startswith(f"{sandbox.issuer}/connect/authorize"))
        browser = FakeBrowser(verify=sandbox.client_ssl_context(), follow=False)
        browser(url)
        stdout, stderr = process.communicate(browser.landed_on[0] + "\n", SUBPROCESS_TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, stderr
    assert stdout.startswith("connected acme (active")
    assert seed.get_connection("acme").status is ConnectionStatus.ACTIVE


def test_pasting_nothing_is_an_error(
    run_subprocess: RunSubprocess, cli_env: dict[str, str]
) -> None:
    result = run_subprocess("login", "acme", "--no-browser", input="\n")
    assert result.returncode == ExitCode.ERROR
    assert "error: no URL given" in result.stderr


def test_a_forged_pasted_url_is_rejected(
    run_cli: RunCli, loopback_uri: str, sandbox: SandboxServer, seed: ConnectionManager
) -> None:
    forged = f"{loopback_uri}?code=abc&state=forged-state&iss={sandbox.issuer}\n"
    result = run_cli("login", "acme", "--no-browser", "--paste", input=forged)
    assert result.exit_code == ExitCode.ERROR
    assert error_lines(result)[0].endswith("[state_mismatch]")
    assert seed.list_connections().items == []
