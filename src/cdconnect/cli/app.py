"""The ``cdconnect`` Typer application: global options, error handling, command registration."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cdconnect import __version__
from cdconnect.cli.commands import connections, demo, doctor, keys, login, sandbox, serve, worker
from cdconnect.cli.commands import token as token_command
from cdconnect.cli.exits import report_error
from cdconnect.cli.logs import configure_logging
from cdconnect.cli.runtime import CliState
from cdconnect.errors import CDConnectError


class CDConnectGroup(TyperGroup):
    """Turns expected errors (``CDConnectError``) into one stderr line and a documented exit code.

    Sub-commands run inside the root group's ``invoke``, so one handler covers every command.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except CDConnectError as error:
            raise typer.Exit(int(report_error(error))) from None


app = typer.Typer(
    name="cdconnect",
    cls=CDConnectGroup,
    help=(
        "Connect your customers' Central Dispatch accounts once and keep their tokens alive.\n\n"
        "Settings come from CDCONNECT_* environment variables (see docs/configuration.md). "
        "Exit codes: 0 ok, 1 error, 2 usage, 3 re-authorization required, 4 not found."
    ),
    epilog="Example: cdconnect demo",
    no_args_is_help=True,
    add_completion=False,
    # Locals in a traceback could include token values: never print them.
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"cdconnect {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file",
            help="Read CDCONNECT_* settings from this dotenv file (the environment wins).",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log informational messages to stderr.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """Global options apply to every command."""
    del version  # handled by its eager callback
    base = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
    ctx.obj = dataclasses.replace(base, env_file=env_file, verbose=verbose)
    configure_logging(verbose=verbose)


for module in (demo, sandbox, serve, worker, login, token_command, doctor):
    module.register(app)
app.add_typer(connections.app, name="connections")
app.add_typer(keys.app, name="keys")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="cdconnect")
