"""``cdconnect sandbox``: the local Central Dispatch stand-in, in the foreground."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cdconnect.sandbox import SandboxServer

EXAMPLE = "Example: cdconnect sandbox --port 9443 > sandbox.env & sleep 2; . ./sandbox.env"


def sandbox(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")
    ] = 9443,
    access_ttl: Annotated[
        int | None, typer.Option("--access-ttl", min=1, help="Access token lifetime (s).")
    ] = None,
    code_ttl: Annotated[
        int | None, typer.Option("--code-ttl", min=1, help="Authorization code lifetime (s).")
    ] = None,
    revoke_on_reuse: Annotated[
        bool,
        typer.Option("--revoke-on-reuse", help="A replayed refresh token revokes its grant."),
    ] = False,
    ca_dir: Annotated[
        Path | None,
        typer.Option("--ca-dir", file_okay=False, help="Keep the test CA here across restarts."),
    ] = None,
) -> None:
    """Run the Central Dispatch sandbox (HTTPS, login page, single-use refresh tokens).

    Prints the `export` lines a client needs on stdout (source them in another shell), then
    serves until Ctrl-C or SIGTERM. Test accounts: broker@example.com and carrier@example.com,
    password sandbox-password.
    """
    # The sandbox stands alone; import it only when it is asked for.
    from cdconnect.sandbox.main import build_config, run

    config = build_config(
        access_ttl=access_ttl,
        code_ttl=code_ttl,
        revoke_on_reuse=True if revoke_on_reuse else None,
    )
    run(host, port, config=config, ca_dir=ca_dir, out=sys.stdout, on_ready=_print_ca_setting)


def _print_ca_setting(server: SandboxServer) -> None:
    """cdconnect's own CA setting, which (unlike SSL_CERT_FILE) also works from an env file."""
    sys.stdout.write(f"export CDCONNECT_CA_FILE={shlex.quote(str(server.ca_file))}\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    app.command("sandbox", epilog=EXAMPLE)(sandbox)
