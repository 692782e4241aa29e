"""HTML pages of the sandbox (login and error pages), rendered with Jinja2, no external assets."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from cdconnect.sandbox.config import TestAccount

_TEMPLATES = Path(__file__).parent / "templates"
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # Inline styles only; no scripts, no frames. (No form-action: Chrome would apply it to the
    # redirect back to the client after the form is posted.)
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )


def login_page(
    *,
    client_id: str,
    scopes: Sequence[str],
    hidden: Sequence[tuple[str, str]],
    email: str = "",
    error: str | None = None,
    accounts: Sequence[TestAccount] = (),
) -> HTMLResponse:
    """The sign-in form; ``hidden`` carries the authorization request back on submit."""
    html = (
        _environment()
        .get_template("login.html")
        .render(
            client_id=client_id,
            scopes=scopes,
            hidden=hidden,
            email=email,
            error=error,
            accounts=accounts,
        )
    )
    return HTMLResponse(html, headers=PAGE_HEADERS)


def error_page(message: str, status: int = 400) -> HTMLResponse:
    """A page shown instead of redirecting, when the redirect target cannot be trusted."""
    html = _environment().get_template("error.html").render(message=message)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
