"""``cdconnect connections``: list, show, refresh and disconnect customers' connections."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from cdconnect.cli.exits import ExitCode, fail
from cdconnect.cli.output import (
    connection_detail_table,
    connection_json,
    connections_table,
    iso,
    note,
    relative,
    stderr_console,
    stdout_console,
    write_json,
    write_line,
)
from cdconnect.cli.runtime import cli_manager, cli_state
from cdconnect.errors import CDConnectError, ReauthorizationRequired
from cdconnect.models import Connection, ConnectionStatus

if TYPE_CHECKING:
    from cdconnect.manager import ConnectionManager

app = typer.Typer(
    help="List, inspect, refresh and disconnect customers' connections.",
    epilog="Example: cdconnect connections list --status reauth_required",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
IdArgument = Annotated[str, typer.Argument(help="Your id for the customer.")]
PAGE_SIZE = 500


def iter_connections(
    manager: ConnectionManager, status: ConnectionStatus | None, limit: int | None = None
) -> Iterator[Connection]:
    """Every connection (ordered by external id), following the store's page cursors."""
    cursor: str | None = None
    produced = 0
    while True:
        page = manager.list_connections(status=status, limit=PAGE_SIZE, cursor=cursor)
        for connection in page.items:
            if limit is not None and produced >= limit:
                return
            produced += 1
            yield connection
        cursor = page.next_cursor
        if cursor is None:
            return


@app.command("list", epilog="Example: cdconnect connections list --json | jq '.[].external_id'")
def list_connections(
    ctx: typer.Context,
    status: Annotated[
        ConnectionStatus | None, typer.Option("--status", help="Only connections in this status.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Show at most this many.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List connections (a JSON array with --json)."""
    with cli_manager(cli_state(ctx)) as manager:
        found = list(iter_connections(manager, status, limit))
    if as_json:
        write_json([connection_json(c) for c in found])
    elif found:
        stdout_console().print(connections_table(found))
    else:
        note("no connections" + (f" with status {status.value}" if status else ""))


@app.command("show", epilog="Example: cdconnect connections show acme --json")
def show(ctx: typer.Context, external_id: IdArgument, as_json: JsonOption = False) -> None:
    """Show one connection (never its tokens). Exit code 4 when it does not exist."""
    with cli_manager(cli_state(ctx)) as manager:
        connection = manager.get_connection(external_id)
    if as_json:
        write_json(connection_json(connection, claims=True))
    else:
        stdout_console().print(connection_detail_table(connection))


@dataclass
class RefreshTally:
    """Outcome counts of ``refresh --all`` (a running total, hence mutable)."""

    refreshed: int = 0
    reauth_required: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def exit_code(self) -> ExitCode:
        if self.failed:
            return ExitCode.ERROR
        return ExitCode.REAUTH_REQUIRED if self.reauth_required else ExitCode.OK

    def as_json(self) -> dict[str, Any]:
        return {
            "refreshed": self.refreshed,
            "reauth_required": self.reauth_required,
            "failed": self.failed,
        }


@app.command(
    "refresh",
    epilog="Examples: cdconnect connections refresh acme  ·  cdconnect connections refresh --all",
)
def refresh(
    ctx: typer.Context,
    external_id: Annotated[
        str | None, typer.Argument(help="Your id for the customer (or use --all).")
    ] = None,
    all_active: Annotated[
        bool, typer.Option("--all", help="Refresh every active connection, with progress.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Rotate a connection's tokens now (one fenced refresh, like any other caller's).

    With --all: exit 0 when every refresh worked, 3 when some connections now need a new login,
    1 when some refreshes failed.
    """
    if (external_id is None) == (not all_active):
        fail("give either an EXTERNAL_ID or --all", ExitCode.USAGE)
    with cli_manager(cli_state(ctx)) as manager:
        if external_id is not None:
            _refresh_one(manager, external_id, as_json)
            return
        tally = _refresh_all(manager)
    if as_json:
        write_json(tally.as_json())
    else:
        note(
            f"refreshed {tally.refreshed}, reauth required {len(tally.reauth_required)}, "
            f"failed {len(tally.failed)}"
        )
        for external, error in tally.failed.items():
            note(f"  {external}: {error}")
    raise typer.Exit(int(tally.exit_code()))


def _refresh_one(manager: ConnectionManager, external_id: str, as_json: bool) -> None:
    token = manager.refresh(external_id, force=True)
    connection = manager.get_connection(external_id)
    if as_json:
        write_json(connection_json(connection))
        return
    write_line(
        f"refreshed {external_id}: generation {connection.generation}, access token valid until "
        f"{iso(token.expires_at)} ({relative(token.expires_at)})"
    )


def _refresh_all(manager: ConnectionManager) -> RefreshTally:
    total = manager.count_by_status().get(ConnectionStatus.ACTIVE, 0)
    tally = RefreshTally()
    columns = (TextColumn("refreshing"), BarColumn(), MofNCompleteColumn())
    console = stderr_console()
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as progress:
        task = progress.add_task("refresh", total=total)
        for connection in list(iter_connections(manager, ConnectionStatus.ACTIVE)):
            _refresh_counted(manager, connection.external_id, tally)
            progress.advance(task)
    return tally


def _refresh_counted(manager: ConnectionManager, external_id: str, tally: RefreshTally) -> None:
    try:
        manager.refresh(external_id, force=True)
    except ReauthorizationRequired:
        tally.reauth_required.append(external_id)
    except CDConnectError as error:
        tally.failed[external_id] = f"{error} [{error.code}]"
    else:
        tally.refreshed += 1


@app.command("disconnect", epilog="Example: cdconnect connections disconnect acme --yes")
def disconnect(
    ctx: typer.Context,
    external_id: IdArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a connection's tokens (revoking the grant at CD when a revocation URL is set).

    The customer has to connect again to use it. Asks for confirmation unless --yes.
    """
    with cli_manager(cli_state(ctx)) as manager:
        manager.get_connection(external_id)  # exit 4 before asking about a connection we lack
        if not yes and not confirm(
            f"Disconnect {external_id!r}? Its tokens are deleted and the customer must "
            "connect again."
        ):
            fail("not disconnected", ExitCode.ERROR)
        connection = manager.disconnect(external_id)
    if as_json:
        write_json(connection_json(connection))
    else:
        write_line(f"disconnected {external_id}")


def confirm(question: str) -> bool:
    """Ask on stderr, read one line from stdin; anything but yes is no (also end of input)."""
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if not sys.stdin.isatty():
        sys.stderr.write("\n")  # a terminal echoed the user's Enter; a pipe did not
    return answer in ("y", "yes")
