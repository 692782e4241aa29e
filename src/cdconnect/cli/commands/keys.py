"""``cdconnect keys``: make encryption keys and re-encrypt the vault under the newest one."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn

from cdconnect.cli.output import note, stderr_console, write_json, write_line
from cdconnect.cli.runtime import cli_manager, cli_state
from cdconnect.settings import env_name

#: Spelled here rather than imported: the vault (SQLAlchemy, alembic) loads only when needed.
ENCRYPTION_KEYS_ENV = env_name("encryption_keys")

app = typer.Typer(
    help="Generate encryption keys and re-encrypt stored tokens (key rotation).",
    epilog="Example: cdconnect keys generate",
    no_args_is_help=True,
)

ROTATION_STEPS = f"""\
To rotate keys:
  1. put the new entry FIRST in {ENCRYPTION_KEYS_ENV}, keeping the old ones after it:
       {ENCRYPTION_KEYS_ENV}="<new entry>,<old entries>"
  2. deploy that setting everywhere cdconnect runs (the first key encrypts, all keys decrypt);
  3. run `cdconnect keys rotate` to re-encrypt every stored token under the new key;
  4. then remove the old entries."""


@app.command(
    "generate",
    epilog=f"Example: export {ENCRYPTION_KEYS_ENV}="
    f'"$(cdconnect keys generate),${ENCRYPTION_KEYS_ENV}"',
)
def generate(
    kid: Annotated[
        str | None,
        typer.Option("--kid", help="Key id (1-64 of A-Z a-z 0-9 . _ -); random by default."),
    ] = None,
) -> None:
    """Print a new random `kid:key` entry (AES-256) on stdout; how to use it goes to stderr.

    The entry is a secret: put it in your secret manager, not in a file next to the database.
    """
    from cdconnect.vault import generate_key_entry

    write_line(generate_key_entry(kid))
    note(ROTATION_STEPS)


@app.command("rotate", epilog="Example: cdconnect keys rotate --batch 500")
def rotate(
    ctx: typer.Context,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Rows re-encrypted per transaction.")
    ] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Re-encrypt every stored token under the first key of the ring.

    Resumable: each batch commits on its own and rows already under the newest key are skipped,
    so an interrupted run can simply be started again.
    """
    with cli_manager(cli_state(ctx)) as manager:
        primary = manager.encryption_key_id
        columns = (SpinnerColumn(), TextColumn("re-encrypted {task.completed} connections"))
        console = stderr_console()
        with Progress(
            *columns, console=console, transient=True, disable=not console.is_terminal
        ) as progress:
            task = progress.add_task("rotate", total=None)
            rewritten = manager.reencrypt_all(
                batch=batch, on_progress=lambda done: progress.update(task, completed=done)
            )
    if as_json:
        write_json({"reencrypted": rewritten, "primary_key_id": primary})
        return
    write_line(f"re-encrypted {rewritten} connections under key {primary}")
    note("Every stored token now uses the first key; older keys can be removed from the ring.")
