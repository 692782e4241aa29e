"""The documentation keeps up with the code.

- every ``cdconnect`` command (sub-command groups included, e.g. ``connections list``) appears in
  ``docs/cli.md``;
- every route of the service (method and path) appears in ``docs/http-api.md``;
- the MkDocs site builds with ``--strict``: no broken link or anchor, no page left out of the nav.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from typer.core import TyperGroup

from cdconnect.cli import app as cli_app
from cdconnect.manager import open_manager
from cdconnect.settings import load_settings
from cdconnect.vault import KeyRing
from cdconnect.web import create_app

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
#: The callback is served at the path of the redirect URI; the docs describe it as ``/callback``.
REDIRECT_URI = "https://cd.vendor.example/callback"
#: Characters that may continue a path: a match must end where the documented path ends.
_PATH_CHARS = r"[\w/{}.:-]"


# -- the command line ---------------------------------------------------------------------------


def command_paths(command: object, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every visible command below ``command`` as its words, groups included."""
    if not isinstance(command, TyperGroup):
        return
    for name, sub in sorted(command.commands.items()):
        if getattr(sub, "hidden", False):
            continue
        path = (*prefix, name)
        yield path
        yield from command_paths(sub, path)


def cli_command_paths() -> list[tuple[str, ...]]:
    return list(command_paths(typer.main.get_command(cli_app)))


def command_documented(words: tuple[str, ...], text: str) -> bool:
    """``cdconnect connections list`` anywhere, or ``connections list`` opening a code span."""
    phrase = r"\s+".join(re.escape(word) for word in words)
    return re.search(rf"(?:\bcdconnect\s+|`){phrase}(?![\w-])", text) is not None


def test_the_cli_walk_finds_groups_and_their_subcommands() -> None:
    paths = cli_command_paths()
    assert ("token",) in paths
    assert ("connections",) in paths
    assert ("connections", "list") in paths
    assert ("keys", "rotate") in paths


def test_the_command_matcher_needs_the_whole_command() -> None:
    text = "Run `cdconnect keys rotate-all` or `connections listing`; see cdconnect worker."
    assert not command_documented(("keys", "rotate"), text)
    assert not command_documented(("connections", "list"), text)
    assert command_documented(("worker",), text)
    assert command_documented(("connections", "list"), "| `connections list [--json]` |")


def test_every_cli_command_is_in_the_cli_reference() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [
        " ".join(words) for words in cli_command_paths() if not command_documented(words, text)
    ]
    assert not missing, f"commands missing from docs/cli.md: {', '.join(missing)}"


# -- the HTTP API -------------------------------------------------------------------------------


@pytest.fixture
def service_app(tmp_path: Path) -> Iterator[FastAPI]:
    settings = load_settings(
        client_id="docs-sync",
        client_secret="docs-sync-secret",
        redirect_uri=REDIRECT_URI,
        issuer="https://id.vendor.example",
        database_url=f"sqlite:///{tmp_path / 'vault.db'}",
        encryption_keys=KeyRing.generate().export(),
        data_dir=str(tmp_path / "data"),
    )
    with open_manager(settings) as manager:
        yield create_app(settings, manager)


def service_routes(app: FastAPI) -> list[tuple[str, str]]:
    """``(method, path)`` of every route the app serves, except FastAPI's own documentation."""
    own = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    routes: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path, methods = route.path_format, route.methods
        if path is None or methods is None or path in own:
            continue
        for method in methods:
            # Starlette adds HEAD to every GET route; a route that is HEAD alone is listed.
            if method == "HEAD" and "GET" in methods:
                continue
            routes.add((method, path))
    return sorted(routes, key=lambda item: (item[1], item[0]))


def _mentions(line: str, pattern: str) -> bool:
    return re.search(pattern, line) is not None


def route_documented(method: str, path: str, text: str) -> bool:
    """The method and the exact path on one line, or the method alone as code in the section
    whose heading names the path (e.g. "`HEAD` answers 200" under "### `GET /connect/{link}`")."""
    path_pattern = rf"(?<!{_PATH_CHARS}){re.escape(path)}(?!{_PATH_CHARS})"
    in_section = False
    for line in text.splitlines():
        if line.startswith("#"):
            in_section = _mentions(line, path_pattern)
        if _mentions(line, path_pattern) and _mentions(line, rf"\b{method}\b"):
            return True
        if in_section and f"`{method}`" in line:
            return True
    return False


def test_the_route_walk_finds_included_routers(service_app: FastAPI) -> None:
    routes = service_routes(service_app)
    assert ("GET", "/callback") in routes
    assert ("POST", "/api/connections/{external_id}/access-token") in routes
    assert ("HEAD", "/connect/{link}") in routes
    assert ("GET", "/openapi.json") not in routes


def test_the_route_matcher_needs_the_exact_path_and_method() -> None:
    text = "### `GET /api/connections/{external_id}`\n\nOne connection.\n\n`DELETE /api/x`\n"
    assert not route_documented("GET", "/api/connections", text)
    assert not route_documented("DELETE", "/api/connections/{external_id}", text)
    assert route_documented("GET", "/api/connections/{external_id}", text)
    assert route_documented("HEAD", "/connect/{link}", "## `GET /connect/{link}`\n\n`HEAD`: 200")


def test_every_route_is_in_the_http_api_reference(service_app: FastAPI) -> None:
    text = (DOCS / "http-api.md").read_text(encoding="utf-8")
    missing = [
        f"{method} {path}"
        for method, path in service_routes(service_app)
        if not route_documented(method, path, text)
    ]
    assert not missing, f"routes missing from docs/http-api.md: {', '.join(missing)}"


# -- the site -----------------------------------------------------------------------------------


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed: pip install -e '.[dev]'")
    site = tmp_path / "site"
    config = ["--config-file", str(REPO / "mkdocs.yml"), "--site-dir", str(site)]
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", *config],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    assert (site / "index.html").is_file()
    assert (site / "security" / "index.html").is_file()
