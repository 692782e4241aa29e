"""Exit codes and the one-line error rendering every command shares.

Scripts branch on the exit code, so the mapping is part of the CLI's contract (docs/cli.md):
0 ok, 1 error, 2 usage, 3 re-authorization required, 4 not found, 130 interrupted.
"""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import NoReturn

import typer

from cdconnect.errors import (
    CDConnectError,
    ConfigurationError,
    ConnectionDisconnected,
    ConnectionNotFound,
    InvalidInput,
    ReauthorizationRequired,
)


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    #: The customer must log in to Central Dispatch again (or connect anew after a disconnect).
    REAUTH_REQUIRED = 3
    NOT_FOUND = 4
    INTERRUPTED = 130


def exit_code_for(error: CDConnectError) -> ExitCode:
    """The documented exit code of an expected error."""
    if isinstance(error, ReauthorizationRequired | ConnectionDisconnected):
        return ExitCode.REAUTH_REQUIRED
    if isinstance(error, ConnectionNotFound):
        return ExitCode.NOT_FOUND
    if isinstance(error, InvalidInput):
        return ExitCode.USAGE
    return ExitCode.ERROR


def error_lines(error: CDConnectError) -> list[str]:
    """``error: <message> [code]``; a configuration error gives one such line per problem."""
    if isinstance(error, ConfigurationError):
        return [f"error: {problem} [{error.code}]" for problem in error.problems]
    message = str(error).strip() or type(error).__name__
    return [f"error: {message} [{error.code}]"]


def report_error(error: CDConnectError) -> ExitCode:
    """Write the error to stderr (plain text: messages may contain brackets) and pick the code."""
    for line in error_lines(error):
        sys.stderr.write(line + "\n")
    sys.stderr.flush()
    return exit_code_for(error)


def fail(message: str, code: ExitCode = ExitCode.ERROR) -> NoReturn:
    """Stop the command with ``error: <message>`` on stderr and ``code``."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    raise typer.Exit(int(code))
