"""``cdconnect demo`` and the steps of ``cdconnect.demo``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from cdconnect.demo import BROKER_ID, CARRIER_ID, run_demo
from cdconnect.models import ConnectionStatus
from tests.cli.conftest import RunCli, RunSubprocess, clear_settings_env


def demo_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("cdconnect-demo-*")}


def test_demo_steps_tell_the_whole_story() -> None:
    before = demo_dirs()
    steps = list(run_demo())
    text = "\n".join(line for step in steps for line in (step.title, *step.lines))
    assert "not found in plaintext" in text
    assert "generation 1 → 2" in text
    assert "refresh token rotated: sha256:" in text
    assert "HTTP 200" in text and "60 listings in total" in text
    assert "ReauthorizationRequired (grant_revoked)" in text
    assert "event connection.refreshed" in text and "event connection.reauth_required" in text
    final = {c.external_id: c.status for c in steps[-1].connections}
    assert final == {
        BROKER_ID: ConnectionStatus.ACTIVE,
        CARRIER_ID: ConnectionStatus.REAUTH_REQUIRED,
    }
    assert demo_dirs() == before  # the temporary vault is gone


def test_demo_rotated_fingerprints_differ() -> None:
    rotated = next(
        line
        for step in run_demo()
        for line in step.lines
        if line.startswith("refresh token rotated")
    )
    old, new = (
        part.split()[0] for part in rotated.removeprefix("refresh token rotated: ").split(" → ")
    )
    assert old.startswith("sha256:") and new.startswith("sha256:") and old != new


def test_demo_ignores_the_callers_configuration(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clear_settings_env(monkeypatch)
    monkeypatch.chdir(tmp_path)
    # Settings that would break the demo if it read them.
    monkeypatch.setenv("CDCONNECT_TOKEN_URL", "https://127.0.0.1:9/connect/token")
    monkeypatch.setenv("CDCONNECT_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:9/x")
    result = run_cli("demo")
    assert result.exit_code == 0, result.output
    assert "Connections in the vault" in result.stdout
    assert "reauth_required" in result.stdout
    assert "Demo finished" in result.stdout


def test_demo_as_a_real_process(run_subprocess: RunSubprocess, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDCONNECT_")}
    result = run_subprocess("demo", env=env)
    assert result.returncode == 0, result.stderr
    assert "9. Connections in the vault" in result.stdout
    assert "nothing is left running" in result.stdout
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written to the working directory
