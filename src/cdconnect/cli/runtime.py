"""What every command needs: the invocation's state, settings and an open manager."""

from __future__ import annotations

import os
import sys
import webbrowser
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cdconnect.errors import ConfigurationError
from cdconnect.settings import ENV_PREFIX, Settings, load_settings

if TYPE_CHECKING:
    from cdconnect.manager import ConnectionManager


def _open_in_browser(url: str) -> bool:
    return webbrowser.open(url)


@dataclass(frozen=True, slots=True)
class CliState:
    """Global options of one invocation, plus the boundaries a test may replace.

    ``open_browser`` is the one interaction with the desktop; tests pass their own through
    ``CliRunner.invoke(..., obj=CliState(open_browser=...))``.
    """

    env_file: Path | None = None
    verbose: bool = False
    open_browser: Callable[[str], bool] = _open_in_browser


def cli_state(ctx: typer.Context) -> CliState:
    state = ctx.find_object(CliState)
    return state if state is not None else CliState()


def env_file_overrides(path: Path, environ: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Settings from a dotenv file: ``(overrides, unknown variable names)``.

    Only ``CDCONNECT_*`` variables are read. The real environment wins over the file (as it does
    over ``.env``), so a variable already set is skipped; empty values count as unset.
    """
    from dotenv import dotenv_values

    try:
        values = dotenv_values(path, encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ConfigurationError(
            f"the env file {path} cannot be read ({type(exc).__name__})"
        ) from None
    overrides: dict[str, str] = {}
    unknown: list[str] = []
    for name, value in values.items():
        if not name.startswith(ENV_PREFIX) or not value or environ.get(name):
            continue
        field = name[len(ENV_PREFIX) :].lower()
        if field in Settings.model_fields:
            overrides[field] = value
        else:
            unknown.append(name)
    return overrides, unknown


def load_cli_settings(state: CliState) -> Settings:
    """Settings from the environment (and ``.env``), with ``--env-file`` below the environment."""
    if state.env_file is None:
        return load_settings()
    overrides, unknown = env_file_overrides(state.env_file, os.environ)
    for name in unknown:
        sys.stderr.write(f"warning: {state.env_file}: ignoring unknown setting {name}\n")
    return load_settings(**overrides)


@contextmanager
def cli_manager(state: CliState) -> Iterator[ConnectionManager]:
    """An open manager on the configured vault (pending migrations are applied, as always)."""
    # Imported here so that `cdconnect --help` and the sandbox start fast.
    from cdconnect.manager import open_manager

    settings = load_cli_settings(state)
    with open_manager(settings) as manager:
        yield manager
