"""``cdconnect doctor`` and the checks of ``cdconnect.doctor``: findings and fixes."""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from cdconnect.cli.exits import ExitCode
from cdconnect.doctor import CheckStatus, DoctorReport, check_clock, run_doctor
from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings, load_settings
from cdconnect.vault import KeyRing
from tests.cli.conftest import RunCli, clear_settings_env
from tests.cli.test_app import closed_port
from tests.manager.conftest import connect, settings_for


def statuses(report: DoctorReport) -> dict[str, str]:
    return {result.name: result.status.value for result in report.results}


def finding(report: DoctorReport, name: str) -> Any:
    return next(result for result in report.results if result.name == name)


def variant(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with ``changes``, validated like any settings."""
    values = {name: getattr(settings, name) for name in Settings.model_fields}
    return load_settings(**(values | changes))


def test_a_healthy_deployment(
    run_cli: RunCli, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "acme")
    result = run_cli("doctor", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert {c["name"]: c["status"] for c in report["checks"]} == {
        "settings": "ok",
        "file permissions": "ok",
        "key ring": "ok",
        "database": "ok",
        "stored tokens": "ok",
        "authorize endpoint": "ok",
        "token endpoint": "ok",
        "client credentials": "ok",
        "clock": "ok",
    }
    human = run_cli("doctor")
    assert human.exit_code == 0
    assert "client credentials" in human.stdout and "FAIL" not in human.stdout


def test_the_probe_spends_no_grant(seed: ConnectionManager, sandbox: SandboxServer) -> None:
    connect(seed, sandbox, "acme")
    run_doctor(lambda: seed.settings)
    assert seed.refresh("acme", force=True).generation == 2
    assert sandbox.control.counters().calls("refresh_token", "ok") == 1


def test_invalid_settings_fail_and_skip_the_rest(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_settings_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    result = run_cli("doctor")
    assert result.exit_code == ExitCode.ERROR
    assert "CDCONNECT_CLIENT_ID is missing" in result.stdout
    assert "fix:" in result.stdout
    report = json.loads(run_cli("doctor", "--json").stdout)
    assert [c["status"] for c in report["checks"]] == ["fail", "skip", "skip", "skip", "skip"]


def test_nothing_created_yet_is_only_a_warning(cli_settings: Settings, tmp_path: Path) -> None:
    fresh = variant(
        cli_settings, encryption_keys=None, data_dir=tmp_path / "new", database_url=None
    )
    report = run_doctor(lambda: fresh)
    assert report.ok
    assert statuses(report)["key ring"] == "warn" and statuses(report)["database"] == "warn"
    assert not (tmp_path / "new").exists()


def test_closed_port_fails_the_endpoints(cli_settings: Settings) -> None:
    broken = variant(cli_settings, issuer=f"https://127.0.0.1:{closed_port()}")
    report = run_doctor(lambda: broken)
    assert not report.ok
    token = finding(report, "token endpoint")
    assert token.status is CheckStatus.FAIL and "cannot connect" in token.summary
    assert "CDCONNECT_ISSUER" in token.fix
    assert "client credentials" not in statuses(report)


def test_an_untrusted_certificate_is_named(
    cli_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    report = run_doctor(lambda: variant(cli_settings, ca_file=None))
    token = finding(report, "token endpoint")
    assert token.status is CheckStatus.FAIL
    assert "not trusted" in token.summary and "CDCONNECT_CA_FILE" in token.fix


def test_wrong_client_secret_fails_the_credentials(cli_settings: Settings) -> None:
    report = run_doctor(lambda: variant(cli_settings, client_secret="wrong-secret"))
    credentials = finding(report, "client credentials")
    assert credentials.status is CheckStatus.FAIL
    assert "invalid_client" in credentials.summary
    assert "wrong-secret" not in json.dumps(report.as_json())


def test_a_missing_key_fails_the_stored_tokens(
    cli_settings: Settings, seed: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(seed, sandbox, "acme")
    other_key = KeyRing.generate("other").export()
    report = run_doctor(lambda: variant(cli_settings, encryption_keys=other_key))
    stored = finding(report, "stored tokens")
    assert stored.status is CheckStatus.FAIL
    assert "CDCONNECT_ENCRYPTION_KEYS" in stored.fix


def test_unreachable_database(cli_settings: Settings) -> None:
    url = f"postgresql+psycopg://postgres:s3cret@127.0.0.1:{closed_port()}/cdconnect"
    report = run_doctor(lambda: variant(cli_settings, database_url=url))
    database = finding(report, "database")
    assert database.status is CheckStatus.FAIL
    assert "CDCONNECT_DATABASE_URL" in database.fix
    assert "s3cret" not in json.dumps(report.as_json())


def test_a_database_without_the_schema_needs_migrations(
    cli_settings: Settings, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch(mode=0o600)
    report = run_doctor(lambda: variant(cli_settings, database_url=f"sqlite:///{empty}"))
    database = finding(report, "database")
    assert database.status is CheckStatus.FAIL
    assert "schema revision None" in database.summary and "migrations" in database.fix


def test_readable_files_fail_with_chmod_fixes(
    sandbox: SandboxServer, tmp_path: Path, keys: str
) -> None:
    data = tmp_path / "shared"
    settings = settings_for(sandbox, f"sqlite:///{data}/cdconnect.sqlite3", data, keys)
    settings = variant(settings, encryption_keys=None)
    with open_manager(settings):
        pass  # creates the database and the generated key file
    data.chmod(0o755)
    (data / "cdconnect.sqlite3").chmod(0o644)
    (data / "encryption-keys.json").chmod(0o640)
    report = run_doctor(lambda: settings)
    permissions = finding(report, "file permissions")
    assert permissions.status is CheckStatus.FAIL
    assert f"chmod 700 {data}" in permissions.fix
    assert f"chmod 600 {data / 'cdconnect.sqlite3'}" in permissions.fix
    assert f"chmod 600 {data / 'encryption-keys.json'}" in permissions.fix
    assert len(permissions.details) == 3


@pytest.mark.parametrize(
    ("skew", "expected"), [(0, "ok"), (3, "ok"), (-40, "warn"), (60, "warn"), (900, "fail")]
)
def test_clock_skew(skew: float, expected: str) -> None:
    server_time = 1_750_000_000.0
    result = check_clock(formatdate(server_time, usegmt=True), server_time + skew)
    assert result.status.value == expected
    if expected != "ok":
        assert "NTP" in (result.fix or "")


def test_clock_without_or_with_a_bad_date_header() -> None:
    assert check_clock(None, time.time()).status is CheckStatus.WARN
    assert check_clock("yesterday-ish", time.time()).status is CheckStatus.WARN


def test_clock_skew_against_the_sandbox(cli_settings: Settings) -> None:
    report = run_doctor(lambda: cli_settings, clock=lambda: time.time() + 900)
    clock = finding(report, "clock")
    assert clock.status is CheckStatus.FAIL and "ahead of" in clock.summary
