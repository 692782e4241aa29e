"""``cdconnect login``: connect one customer account from a terminal."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from cdconnect.cli.exits import fail
from cdconnect.cli.loopback import LoopbackAddress, LoopbackReceiver, loopback_address
from cdconnect.cli.output import connection_json, note, write_json, write_line
from cdconnect.cli.runtime import CliState, cli_manager, cli_state

if TYPE_CHECKING:
    from cdconnect.models import Connection

EXAMPLE = "Examples: cdconnect login acme  ·  cdconnect login acme --no-browser --paste"


def login(
    ctx: typer.Context,
    external_id: Annotated[str, typer.Argument(help="Your id for the customer.")],
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Only print the URL; do not open a browser.")
    ] = False,
    paste: Annotated[
        bool,
        typer.Option(
            "--paste",
            help="Read the URL the browser landed on from stdin, even for a loopback redirect "
            "URI (e.g. when the browser runs on another machine).",
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for the redirect.")
    ] = 300.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the connection as JSON.")] = False,
) -> None:
    """Connect a Central Dispatch account: log in in a browser, cdconnect stores the tokens.

    When CDCONNECT_REDIRECT_URI is http://127.0.0.1:PORT/... (or localhost), cdconnect listens
    there for the redirect; otherwise paste the URL the browser ended on when asked.
    """
    state = cli_state(ctx)
    with cli_manager(state) as manager:
        start = manager.begin_connect(external_id)
        address = None if paste else loopback_address(manager.settings.redirect_uri)
        if address is None:
            _show_url(state, start.authorize_url, open_browser=not no_browser)
            callback = _ask_for_callback()
        else:
            callback = _receive_redirect(state, address, start.authorize_url, no_browser, timeout)
        connection = manager.complete_connect(callback).connection
    _print_result(connection, as_json)


def _receive_redirect(
    state: CliState, address: LoopbackAddress, url: str, no_browser: bool, timeout: float
) -> str:
    receiver = LoopbackReceiver(address)
    try:
        receiver.start()
    except OSError as exc:
        fail(
            f"cannot listen on {address.host}:{address.port} for the redirect "
            f"({exc.strerror or exc}); free the port or use --paste"
        )
    try:
        _show_url(state, url, open_browser=not no_browser)
        note(f"Waiting up to {timeout:g} s for the browser to come back to port {address.port} …")
        callback = receiver.wait(timeout)
    finally:
        receiver.close()
    if callback is None:
        fail(f"no redirect arrived within {timeout:g} s; run the command again")
    return callback


def _show_url(state: CliState, url: str, *, open_browser: bool) -> None:
    note("Log in to Central Dispatch with the customer's account at this URL:")
    note(f"  {url}")
    if open_browser and not state.open_browser(url):
        note("(could not open a browser: open the URL yourself)")


def _ask_for_callback() -> str:
    """Read the redirect URL from stdin (the prompt goes to stderr: stdout stays data only)."""
    note("After logging in, the browser lands on the redirect URI (the page may fail to load).")
    sys.stderr.write("Paste the full URL from the address bar: ")
    sys.stderr.flush()
    line = sys.stdin.readline().strip()
    if not sys.stdin.isatty():
        sys.stderr.write("\n")  # a terminal echoed the user's Enter; a pipe did not
    if not line:
        fail("no URL given")
    return line


def _print_result(connection: Connection, as_json: bool) -> None:
    if as_json:
        write_json(connection_json(connection))
        return
    write_line(
        f"connected {connection.external_id} ({connection.status.value}, scope "
        f"{' '.join(connection.scope)!r})"
    )


def register(app: typer.Typer) -> None:
    app.command("login", epilog=EXAMPLE)(login)
