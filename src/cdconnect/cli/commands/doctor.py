"""``cdconnect doctor``: check a deployment and say how to fix what is wrong."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cdconnect.cli.exits import ExitCode
from cdconnect.cli.output import stdout_console, write_json
from cdconnect.cli.runtime import cli_state, load_cli_settings

_MARKS = {
    "ok": "[green]ok[/]",
    "warn": "[yellow]warn[/]",
    "fail": "[bold red]FAIL[/]",
    "skip": "[dim]skip[/]",
}


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check settings, HTTPS to the endpoints, credentials, clock, database, keys, permissions.

    Each problem comes with a fix. Exit code 1 when any check fails (warnings do not count).
    """
    from cdconnect.doctor import run_doctor

    report = run_doctor(partial(load_cli_settings, cli_state(ctx)))
    if as_json:
        write_json(report.as_json())
    else:
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(no_wrap=True)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for result in report.results:
            lines = [escape(result.summary)]
            lines += [f"  [dim]-[/] {escape(detail)}" for detail in result.details]
            if result.fix:
                lines.append(f"  [cyan]fix:[/] {escape(result.fix)}")
            table.add_row(_MARKS[result.status.value], escape(result.name), "\n".join(lines))
        stdout_console().print(table)
    if not report.ok:
        raise typer.Exit(int(ExitCode.ERROR))


def register(app: typer.Typer) -> None:
    app.command("doctor", epilog="Example: cdconnect doctor --json")(doctor)
