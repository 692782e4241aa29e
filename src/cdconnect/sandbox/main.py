"""``python -m cdconnect.sandbox``: run the sandbox in the foreground until interrupted."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from cdconnect.sandbox.config import DEFAULT_PORT, SandboxConfig, default_config
from cdconnect.sandbox.server import SandboxServer


def build_config(
    *,
    base: SandboxConfig | None = None,
    access_ttl: int | None = None,
    code_ttl: int | None = None,
    revoke_on_reuse: bool | None = None,
) -> SandboxConfig:
    """``base`` (the default config if None) with the given overrides."""
    config = base or default_config()
    changes: dict[str, object] = {}
    if access_ttl is not None:
        changes["access_token_ttl"] = access_ttl
    if code_ttl is not None:
        changes["code_ttl"] = code_ttl
    if revoke_on_reuse is not None:
        changes["revoke_grant_on_reuse"] = revoke_on_reuse
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


def export_lines(env: dict[str, str]) -> list[str]:
    """Shell ``export`` lines for ``env`` (values quoted for POSIX shells)."""
    return [f"export {name}={shlex.quote(value)}" for name, value in env.items()]


def run(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    config: SandboxConfig | None = None,
    ca_dir: Path | None = None,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
    on_ready: Callable[[SandboxServer], None] | None = None,
) -> None:
    """Serve the sandbox over HTTPS until ``stop`` is set, SIGTERM arrives or Ctrl-C.

    Prints the ``export`` lines a client needs to ``out`` (stdout by default) once serving.
    """
    out = out or sys.stdout
    stop = stop or threading.Event()
    with SandboxServer(config, host=host, port=port, ca_dir=ca_dir) as server:
        print(f"# Central Dispatch sandbox serving at {server.issuer}", file=out)
        for line in export_lines(server.env()):
            print(line, file=out)
        print("# Test accounts: " + ", ".join(a.email for a in server.config.accounts), file=out)
        out.flush()
        if on_ready is not None:
            on_ready(server)
        _wait(stop)


def _wait(stop: threading.Event) -> None:
    restore = None
    if threading.current_thread() is threading.main_thread():
        restore = signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cdconnect.sandbox",
        description="Run a local HTTPS stand-in for Central Dispatch's identity server.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--access-ttl", type=int, help="access token lifetime (s), default 3600")
    parser.add_argument("--code-ttl", type=int, help="authorization code lifetime (s), default 60")
    parser.add_argument(
        "--revoke-on-reuse",
        action="store_true",
        help="a replayed refresh token also revokes its whole grant",
    )
    parser.add_argument(
        "--ca-dir", type=Path, help="keep the test CA here and reuse it on the next start"
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    config = build_config(
        access_ttl=args.access_ttl,
        code_ttl=args.code_ttl,
        revoke_on_reuse=True if args.revoke_on_reuse else None,
    )
    run(args.host, args.port, config=config, ca_dir=args.ca_dir)
