"""``SandboxServer`` over real HTTPS: TLS, lifecycle, drop/hang after commit, concurrency."""

from __future__ import annotations

import ssl
import stat
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cdconnect.sandbox import SandboxServer, SigningKey, default_config
from cdconnect.sandbox.tls import CA_KEY_FILE_NAME
from tests.sandbox.helpers import connect, refresh


def test_the_issuer_is_https_on_the_bound_port(sandbox: SandboxServer) -> None:
    assert sandbox.issuer == f"https://127.0.0.1:{sandbox.port}"
    assert sandbox.port > 0
    assert sandbox.config.issuer == sandbox.issuer
    assert repr(sandbox) == f"SandboxServer(issuer={sandbox.issuer!r})"


def test_the_ca_file_is_private_and_trusted_for_ip_and_localhost(sandbox: SandboxServer) -> None:
    assert stat.S_IMODE(sandbox.ca_file.stat().st_mode) == 0o600
    context = ssl.create_default_context(cafile=str(sandbox.ca_file))
    for host in ("127.0.0.1", "localhost"):
        with httpx.Client(verify=context) as http:
            response = http.get(f"https://{host}:{sandbox.port}/.well-known/openid-configuration")
        assert response.status_code == 200
        assert response.json()["issuer"] == sandbox.issuer  # fixed issuer, whatever the host


def test_clients_without_the_ca_are_refused(sandbox: SandboxServer) -> None:
    with (
        httpx.Client(verify=ssl.create_default_context()) as http,
        pytest.raises(httpx.ConnectError),
    ):
        http.get(sandbox.issuer + "/.well-known/openid-configuration")


def test_plain_http_gets_no_answer(sandbox: SandboxServer) -> None:
    with httpx.Client() as http, pytest.raises(httpx.HTTPError):
        http.get(f"http://127.0.0.1:{sandbox.port}/.well-known/openid-configuration")


def test_env_has_everything_a_client_needs(sandbox: SandboxServer) -> None:
    env = sandbox.env()

    assert env == {
        "SSL_CERT_FILE": str(sandbox.ca_file),
        "CDCONNECT_ISSUER": sandbox.issuer,
        "CDCONNECT_CLIENT_ID": "cdconnect-demo",
        "CDCONNECT_CLIENT_SECRET": "sandbox-demo-secret-0123456789abcdef",
        "CDCONNECT_REDIRECT_URI": "https://127.0.0.1:8443/callback",
        "CDCONNECT_SERVICE_CLIENT_ID": "cdconnect-service",
        "CDCONNECT_SERVICE_CLIENT_SECRET": "sandbox-service-secret-0123456789abcdef",
    }


def test_drop_after_commit_cuts_the_connection_after_consuming(sandbox: SandboxServer) -> None:
    with sandbox.http_client() as http:
        body = connect(http, sandbox.issuer)
        sandbox.control.set_faults(drop_after_commit=1)

        with pytest.raises(httpx.RemoteProtocolError):
            refresh(http, body["refresh_token"])

        replay = refresh(http, body["refresh_token"])
    assert replay.json()["error"] == "invalid_grant"
    counters = sandbox.control.counters()
    assert counters.calls("refresh_token", "dropped") == 1
    assert counters.calls("refresh_token", "invalid_grant") == 1
    assert counters.successful_refreshes == 1
    assert counters.refresh_reuse == 1


def test_hang_after_commit_never_answers_until_released(sandbox: SandboxServer) -> None:
    with sandbox.http_client() as http:
        body = connect(http, sandbox.issuer)
        sandbox.control.set_faults(hang_after_commit=1)

        with pytest.raises(httpx.ReadTimeout):
            refresh(http, body["refresh_token"], timeout=httpx.Timeout(5, read=0.5))

        counters = sandbox.control.counters()
        assert counters.calls("refresh_token", "hung") == 1
        assert counters.successful_refreshes == 1
        sandbox.control.release_hangs()
        assert refresh(http, body["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_released_hang_ends_in_a_cut_connection(sandbox: SandboxServer) -> None:
    with sandbox.http_client(timeout=30) as http:
        body = connect(http, sandbox.issuer)
        sandbox.control.set_faults(hang_after_commit=1)
        outcome: list[BaseException] = []

        def call() -> None:
            try:
                refresh(http, body["refresh_token"])
            except httpx.HTTPError as exc:
                outcome.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        _wait_until(lambda: sandbox.control.counters().calls("refresh_token", "hung") == 1)
        sandbox.control.reset()  # a reset releases hanging requests
        caller.join(30)
    assert not caller.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.RemoteProtocolError)


def _wait_until(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(3000):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("condition not reached")


def test_fifty_threads_refreshing_one_token_yield_exactly_one_winner(
    sandbox: SandboxServer,
) -> None:
    with sandbox.http_client() as http:
        token = connect(http, sandbox.issuer)["refresh_token"]
    barrier = threading.Barrier(50)
    statuses: Counter[str] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        with sandbox.http_client(timeout=60) as http:
            http.get("/.well-known/openid-configuration")  # connect before the race
            barrier.wait()
            response = refresh(http, token)
        outcome = "ok" if response.status_code == 200 else response.json()["error"]
        with lock:
            statuses[outcome] += 1

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert statuses == Counter({"ok": 1, "invalid_grant": 49})
    counters = sandbox.control.counters()
    assert counters.calls("refresh_token", "ok") == 1
    assert counters.calls("refresh_token", "invalid_grant") == 49
    assert counters.refresh_reuse == 49
    assert counters.successful_refreshes == 1


_PROCESS_SCRIPT = textwrap.dedent(
    """
    import sys, threading, httpx
    issuer, token = sys.argv[1], sys.argv[2]
    form = {"grant_type": "refresh_token", "refresh_token": token,
            "client_id": "cdconnect-demo",
            "client_secret": "sandbox-demo-secret-0123456789abcdef"}
    results = []
    def call():
        with httpx.Client(timeout=60) as http:  # trusts the CA through SSL_CERT_FILE
            results.append(http.post(issuer + "/connect/token", data=form).status_code)
    threads = [threading.Thread(target=call) for _ in range(10)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(" ".join(map(str, results)))
    """
)


@pytest.mark.slow
def test_several_processes_racing_for_one_token_yield_one_winner(sandbox: SandboxServer) -> None:
    with sandbox.http_client() as http:
        token = connect(http, sandbox.issuer)["refresh_token"]
    env = {"SSL_CERT_FILE": sandbox.env()["SSL_CERT_FILE"], "PATH": ""}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS_SCRIPT, sandbox.issuer, token],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(4)
    ]
    statuses = Counter(
        int(status)
        for process in processes
        for status in process.communicate(timeout=120)[0].split()
    )

    assert statuses == Counter({200: 1, 400: 39})
    assert sandbox.control.counters().successful_refreshes == 1


def test_a_stopped_server_removes_its_files_and_refuses_connections(
    sandbox_signing_key: SigningKey,
) -> None:
    with SandboxServer(signing_key=sandbox_signing_key) as server:
        ca_file, issuer = server.ca_file, server.issuer
        context = server.client_ssl_context()
        with server.http_client() as http:
            assert http.get("/.well-known/openid-configuration").status_code == 200

    assert not ca_file.exists()
    with httpx.Client(verify=context) as http, pytest.raises(httpx.ConnectError):
        http.get(issuer + "/.well-known/openid-configuration")
    with pytest.raises(RuntimeError, match="not started"):
        server.control.counters()


def test_stopping_releases_hanging_requests(sandbox_signing_key: SigningKey) -> None:
    outcome: list[BaseException] = []
    with SandboxServer(signing_key=sandbox_signing_key) as server:
        with server.http_client() as http:
            body = connect(http, server.issuer)
        server.control.set_faults(hang_after_commit=1)

        def call() -> None:
            with server.http_client(timeout=60) as http:
                try:
                    refresh(http, body["refresh_token"])
                except httpx.HTTPError as exc:
                    outcome.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        _wait_until(lambda: server.state.counters.token_calls["refresh_token"]["hung"] == 1)
    caller.join(30)

    assert not caller.is_alive()
    assert len(outcome) == 1


def test_ca_dir_keeps_and_reuses_the_ca(tmp_path: Path, sandbox_signing_key: SigningKey) -> None:
    ca_dir = tmp_path / "ca"
    with SandboxServer(ca_dir=ca_dir, signing_key=sandbox_signing_key) as first:
        first_pem = first.ca_file.read_bytes()
    assert stat.S_IMODE((ca_dir / CA_KEY_FILE_NAME).stat().st_mode) == 0o600

    with SandboxServer(ca_dir=ca_dir, signing_key=sandbox_signing_key) as second:
        assert second.ca_file.read_bytes() == first_pem
        context = ssl.create_default_context(cafile=str(ca_dir / "sandbox-ca.pem"))
        with httpx.Client(verify=context) as http:
            assert http.get(second.issuer + "/.well-known/openid-configuration").status_code == 200


def test_a_server_serves_its_own_config(sandbox_signing_key: SigningKey) -> None:
    config = default_config().with_redirect_uris("http://127.0.0.1:9999/cb")
    with SandboxServer(config, signing_key=sandbox_signing_key) as server:
        assert "http://127.0.0.1:9999/cb" in server.config.clients[0].redirect_uris
        with server.http_client() as http:
            body = connect(http, server.issuer)
        assert body["expires_in"] == 3600


def test_a_server_cannot_be_started_twice(sandbox: SandboxServer) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        sandbox.start()


def test_a_taken_port_fails_cleanly(
    sandbox: SandboxServer, sandbox_signing_key: SigningKey
) -> None:
    server = SandboxServer(port=sandbox.port, signing_key=sandbox_signing_key)

    with pytest.raises(OSError):
        server.start()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.ca_file
