"""Fixtures for CLI tests: the environment a ``cdconnect`` command sees, and a seeding manager.

* ``cli_settings``: settings for the session's sandbox and a fresh SQLite vault under tmp_path.
* ``cli_env``: those settings as ``CDCONNECT_*`` variables, set with monkeypatch (any other
  ``CDCONNECT_*`` setting of the outer environment is removed); the cwd is tmp_path.
* ``seed``: a manager on the same vault, for arranging state (connect customers, revoke ...).
* ``run_cli(*args)``: invoke the Typer app in-process; ``run_subprocess(*args)``: run
  ``python -m cdconnect.cli`` as a real process with the same environment.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from cdconnect.cli import app
from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import ENV_PREFIX, Settings, env_name
from cdconnect.vault import KeyRing
from tests.fixtures.databases import sqlite_url
from tests.manager.conftest import settings_for

RunCli = Callable[..., Result]
RunSubprocess = Callable[..., "subprocess.CompletedProcess[str]"]
SUBPROCESS_TIMEOUT = 120


def env_for(settings: Settings) -> dict[str, str]:
    """The ``CDCONNECT_*`` variables that reproduce ``settings`` (defaults left out)."""
    env: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None or value == info.default:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[env_name(name)] = str(value)
    return env


def clear_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX) and name[len(ENV_PREFIX) :].lower() in Settings.model_fields:
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _restore_cdconnect_logger() -> Iterator[None]:
    """The CLI configures the ``cdconnect`` logger; give other tests back the logger they had."""
    logger = logging.getLogger("cdconnect")
    saved = (logger.level, list(logger.handlers), logger.propagate)
    yield
    logger.setLevel(saved[0])
    logger.handlers[:] = saved[1]
    logger.propagate = saved[2]


@pytest.fixture
def keys() -> str:
    return KeyRing.generate("cli1").export()


@pytest.fixture
def cli_settings(sandbox: SandboxServer, tmp_path: Path, keys: str) -> Settings:
    return settings_for(sandbox, sqlite_url(tmp_path), tmp_path / "data", keys)


@pytest.fixture
def cli_env(
    cli_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    clear_settings_env(monkeypatch)
    env = env_for(cli_settings)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env file from the checkout
    return env


@pytest.fixture
def seed(cli_settings: Settings, cli_env: dict[str, str]) -> Iterator[ConnectionManager]:
    with open_manager(cli_settings) as manager:
        yield manager


@pytest.fixture
def run_cli() -> RunCli:
    runner = CliRunner()

    def run(*args: str, obj: Any = None, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), obj=obj, input=input)

    return run


@pytest.fixture
def run_subprocess(tmp_path: Path) -> RunSubprocess:
    def run(
        *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cdconnect.cli", *args],
            env=env if env is not None else dict(os.environ),
            cwd=tmp_path,
            input=input,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
            check=False,
        )

    return run


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]
