"""``cdconnect token``: a valid access token on stdout, for shell scripts and curl."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from cdconnect.cli.output import iso, write_json, write_line
from cdconnect.cli.runtime import cli_manager, cli_state

EXAMPLE = (
    'Examples: curl -H "Authorization: Bearer $(cdconnect token acme)" '
    "'https://marketplace-api.centraldispatch.com/listings'  ·  cdconnect token acme --json"
)


def token(
    ctx: typer.Context,
    external_id: Annotated[str, typer.Argument(help="Your id for the customer.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON with expires_at and scope.")
    ] = False,
) -> None:
    """Print a valid access token for a connected customer (refreshed if needed).

    Only the token and a newline go to stdout. Exit code 3 means the customer must log in to
    Central Dispatch again; 4 means there is no such connection.
    """
    with cli_manager(cli_state(ctx)) as manager:
        access = manager.access_token(external_id)
    value = access.access_token.get_secret_value()
    if not as_json:
        write_line(value)
        return
    write_json(
        {
            "access_token": value,
            "token_type": access.token_type,
            "expires_at": iso(access.expires_at),
            "expires_in": max(0, int(access.expires_at - time.time())),
            "scope": " ".join(access.scope),
            "external_id": access.external_id,
            "generation": access.generation,
        }
    )


def register(app: typer.Typer) -> None:
    app.command("token", epilog=EXAMPLE)(token)
