"""``cdconnect demo``: the guided tour, rendered step by step."""

from __future__ import annotations

import logging
from contextlib import closing

import typer
from rich.markup import escape

from cdconnect.cli.output import connections_table, stdout_console
from cdconnect.cli.runtime import cli_state


def demo(ctx: typer.Context) -> None:
    """Run the whole product locally in seconds: no Central Dispatch account needed.

    Starts the sandbox (HTTPS) and a temporary encrypted vault, connects two test customers
    through the real login flow, shows a token, an expiry with a rotated refresh token, an
    authenticated API call and a revoked grant, then removes everything.
    """
    # Imported here: the demo pulls in the sandbox and the manager, other commands need neither.
    from cdconnect.demo import run_demo

    if not cli_state(ctx).verbose:
        # The demo provokes failures on purpose (a revoked grant) and narrates them itself.
        logging.getLogger("cdconnect").setLevel(logging.ERROR)
    console = stdout_console()
    with closing(run_demo()) as steps:
        for number, step in enumerate(steps, start=1):
            console.print(f"[bold cyan]{number}.[/] [bold]{escape(step.title)}[/]")
            for line in step.lines:
                console.print(f"   {escape(line)}")
            if step.connections:
                console.print(connections_table(step.connections, now=step.as_of))
    console.print("[green]Demo finished:[/] nothing is left running.")


def register(app: typer.Typer) -> None:
    app.command("demo", epilog="Example: cdconnect demo")(demo)
