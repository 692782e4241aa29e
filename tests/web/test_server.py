"""The uvicorn runner (``run_server``), the worker factory, and the log formats."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import trustme

from cdconnect.settings import Settings, load_settings
from cdconnect.web.logs import JsonFormatter, configure_logging
from cdconnect.web.server import app_from_environment, run_server, settings_environment

RUNNER = """
import sys
from cdconnect.settings import load_settings
from cdconnect.web import run_server
run_server(load_settings(), host="127.0.0.1", port=int(sys.argv[1]), certfile=sys.argv[2],
           keyfile=sys.argv[3], workers=int(sys.argv[4]), log_json=True)
"""


def test_settings_survive_the_trip_through_the_environment(
    web_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = settings_environment(web_settings)
    assert variables["CDCONNECT_PKCE"] == "true"
    assert variables["CDCONNECT_ADMIN_TOKENS"] == web_settings.admin_tokens.get_secret_value()  # type: ignore[union-attr]
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert load_settings() == web_settings


def test_the_worker_factory_builds_an_app_from_the_environment(
    web_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings_environment(web_settings).items():
        monkeypatch.setenv(name, value)
    from fastapi.testclient import TestClient

    with TestClient(app_from_environment()) as client:
        assert client.get("/readyz").json()["status"] == "ready"


def test_workers_must_be_positive(web_settings: Settings) -> None:
    with pytest.raises(ValueError, match="workers"):
        run_server(web_settings, host="127.0.0.1", port=0, workers=0)


def test_json_log_lines_carry_the_extra_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "cdconnect.web.access", "msg": "GET %s", "args": ("/healthz",), "levelno": 20}
    )
    record.levelname = "INFO"
    record.request_id = "abc123"
    record.status = 200
    document = json.loads(JsonFormatter().format(record))
    assert document["message"] == "GET /healthz"
    assert document["level"] == "info"
    assert document["logger"] == "cdconnect.web.access"
    assert document["request_id"] == "abc123"
    assert document["status"] == 200
    assert document["ts"].endswith("Z")


def test_configure_logging_silences_uvicorns_access_log() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging(json_lines=True)
        assert logging.getLogger("uvicorn.access").disabled
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        logging.getLogger("uvicorn.access").disabled = False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_healthy(url: str, ca_file: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(verify=ssl.create_default_context(cafile=ca_file), timeout=2) as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the server exited"
            try:
                if http.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise AssertionError("the server did not become healthy")


@pytest.mark.slow
def test_run_server_serves_tls_with_several_workers(web_settings: Settings, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(ca_file))
    port = free_port()
    environment = {**os.environ, **settings_environment(web_settings)}
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(port), str(certfile), str(keyfile), "2"],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"https://127.0.0.1:{port}"
        wait_until_healthy(base + "/healthz", ca_file, process)
        with httpx.Client(verify=ssl.create_default_context(cafile=ca_file)) as http:
            ready = http.get(base + "/readyz")
            denied = http.get(base + "/api/connections")
        assert ready.json()["status"] == "ready"
        assert ready.headers["strict-transport-security"]
        assert "server" not in ready.headers
        assert denied.status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    lines = [json.loads(line) for line in stderr.decode().splitlines() if line.startswith("{")]
    assert any(line.get("route") == "/readyz" and line.get("status") == 200 for line in lines)
