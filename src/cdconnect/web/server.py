"""Running the service with uvicorn (what ``cdconnect serve`` calls)."""

from __future__ import annotations

import logging
import os
from typing import Any

import uvicorn
from fastapi import FastAPI

from cdconnect.manager import open_manager
from cdconnect.settings import Settings, env_name, load_settings
from cdconnect.web.app import create_app
from cdconnect.web.logs import configure_logging

log = logging.getLogger("cdconnect.web")

#: The import string uvicorn's worker processes use to build their own app.
APP_FACTORY = "cdconnect.web.server:app_from_environment"


def app_from_environment() -> FastAPI:
    """An app whose settings and manager come from the environment (one per worker process)."""
    settings = load_settings()
    configure_logging(json_lines=settings.log_json)
    return create_app(settings, open_manager(settings), close_manager=True)


def settings_environment(settings: Settings) -> dict[str, str]:
    """The ``CDCONNECT_*`` variables that reproduce ``settings`` in a child process."""
    variables: dict[str, str] = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        variables[env_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
    return variables


def run_server(
    settings: Settings,
    *,
    host: str,
    port: int,
    certfile: str | os.PathLike[str] | None = None,
    keyfile: str | os.PathLike[str] | None = None,
    workers: int = 1,
    log_json: bool = False,
) -> None:
    """Serve until interrupted. TLS when ``certfile`` (and ``keyfile``) are given.

    ``log_json`` chooses JSON log lines (``cdconnect serve`` passes ``CDCONNECT_LOG_JSON`` unless
    ``--json-logs``/``--text-logs`` say otherwise).

    With ``workers > 1`` uvicorn starts that many processes, each building its own manager from
    the environment; ``settings`` is exported to the environment first so that values given
    on the command line reach the workers too.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    configure_logging(json_lines=log_json)
    if not settings.admin_token_list():
        log.warning("no CDCONNECT_ADMIN_TOKENS configured: the admin API refuses every request")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "ssl_certfile": os.fspath(certfile) if certfile else None,
        "ssl_keyfile": os.fspath(keyfile) if keyfile else None,
        "log_config": None,
        # uvicorn's access log would print raw paths and query strings (codes, links).
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
    }
    if workers == 1:
        app = create_app(settings, open_manager(settings), close_manager=True)
        uvicorn.run(app, **options)
        return
    os.environ.update(settings_environment(settings))
    # The workers log the way this call was told to, whatever the settings said.
    os.environ[env_name("log_json")] = "true" if log_json else "false"
    uvicorn.run(APP_FACTORY, factory=True, workers=workers, **options)
