"""``cdconnect serve``: the web service (connect pages, token-broker API, webhooks, metrics)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer

from cdconnect.cli.exits import ExitCode, fail
from cdconnect.cli.logs import release_logging
from cdconnect.cli.runtime import cli_state, load_cli_settings

EXAMPLE = (
    "Example: cdconnect serve --host 0.0.0.0 --port 8443 --certfile cert.pem --keyfile key.pem"
)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port.")] = 8443,
    certfile: Annotated[
        Path | None,
        typer.Option("--certfile", exists=True, dir_okay=False, help="TLS certificate (PEM)."),
    ] = None,
    keyfile: Annotated[
        Path | None,
        typer.Option("--keyfile", exists=True, dir_okay=False, help="TLS private key (PEM)."),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
    json_logs: Annotated[
        bool | None,
        typer.Option("--json-logs/--text-logs", help="Log as JSON lines (default: settings)."),
    ] = None,
) -> None:
    """Run the cdconnect service until stopped.

    Without --certfile/--keyfile it serves plain HTTP: put it behind a TLS-terminating proxy.
    """
    if (certfile is None) != (keyfile is None):
        fail("give both --certfile and --keyfile, or neither", ExitCode.USAGE)
    settings = load_cli_settings(cli_state(ctx))
    run_server = _load_run_server()
    release_logging()  # the service sets up its own (text or JSON) logging
    run_server(
        settings,
        host=host,
        port=port,
        certfile=certfile,
        keyfile=keyfile,
        workers=workers,
        log_json=settings.log_json if json_logs is None else json_logs,
    )


def _load_run_server() -> Any:
    """``cdconnect.web.server.run_server``, imported only when serving (it pulls in the web app)."""
    try:
        module = importlib.import_module("cdconnect.web.server")
    except ImportError as exc:
        fail(f"the web service is not available in this installation ({exc.name})")
    return module.run_server


def register(app: typer.Typer) -> None:
    app.command("serve", epilog=EXAMPLE)(serve)
