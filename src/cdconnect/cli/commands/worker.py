"""``cdconnect worker``: keep idle connections alive (refresh before the grant's lifetime ends)."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import TYPE_CHECKING, Annotated

import typer

from cdconnect.cli.output import iso, note, write_json_line
from cdconnect.cli.runtime import cli_manager, cli_state
from cdconnect.cli.worker_loop import WorkerOptions, run_worker, stop_on_signals
from cdconnect.errors import StoreError

if TYPE_CHECKING:
    from cdconnect.manager import KeepAliveSummary

EXAMPLE = "Examples: cdconnect worker --pause 60  ·  cron: */15 * * * * cdconnect worker --once"


def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit (cron).")] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            min=0,
            help="Refresh connections not refreshed for this long, in seconds "
            "(default CDCONNECT_KEEPALIVE_INTERVAL, 7 days).",
        ),
    ] = None,
    access_window: Annotated[
        float | None,
        typer.Option(
            "--access-window",
            min=0,
            help="Also refresh access tokens expiring within this many seconds.",
        ),
    ] = None,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Connections claimed per cycle.")
    ] = 500,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Refreshes in flight at once.")
    ] = 16,
    pause: Annotated[
        float,
        typer.Option("--pause", min=0, help="Seconds between cycles (±20 % jitter)."),
    ] = 60.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print each cycle's summary as a JSON line on stdout.")
    ] = False,
) -> None:
    """Refresh connections due for keep-alive, cycle after cycle, until SIGTERM or Ctrl-C.

    Safe to run on many hosts at once: connections are claimed under a lease (PostgreSQL picks
    them with FOR UPDATE SKIP LOCKED), so no connection is refreshed twice. A stop request lets
    the current cycle finish. A summary line per cycle goes to stderr.
    """
    options = WorkerOptions(interval, access_window, batch, concurrency, pause, once)
    stop = threading.Event()

    def report(cycle: int, summary: KeepAliveSummary) -> None:
        note(f"{iso(time.time())} keep-alive cycle {cycle}: {summary.line()}")
        if as_json:
            write_json_line({"cycle": cycle, **dataclasses.asdict(summary)})

    def report_error(error: StoreError) -> None:
        note(f"{iso(time.time())} keep-alive cycle failed: {error} [{error.code}]; retrying")

    with cli_manager(cli_state(ctx)) as manager, stop_on_signals(stop, note):
        run_worker(manager, options, stop=stop, report=report, report_error=report_error)


def register(app: typer.Typer) -> None:
    app.command("worker", epilog=EXAMPLE)(worker)
