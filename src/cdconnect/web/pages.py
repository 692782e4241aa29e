"""HTML pages for people: the connect outcome pages and the API overview.

Every failure page says what happened, what to do next, and shows the request's reference so
support can find the matching log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from cdconnect.errors import (
    AccessDenied,
    BrowserMismatch,
    CDConnectError,
    InvalidClient,
    IssuerMismatch,
    MalformedCallback,
    OAuthError,
    StateMismatch,
    TokenEndpointError,
    UnauthorizedClient,
)

STYLESHEET = files("cdconnect.web").joinpath("static/cdconnect.css").read_bytes()

_START_AGAIN = "Go back to the application you came from and start connecting again."


@dataclass(frozen=True, slots=True)
class Failure:
    """How a failed connect is explained to the person in front of the browser."""

    status: int
    title: str
    explanation: str
    advice: str
    code: str


def link_failure(exc: CDConnectError) -> Failure:
    """``/connect/{link}`` could not be opened."""
    return Failure(
        400,
        "This connect link cannot be used",
        "Connect links work once and only for a few minutes. This one is unknown, has expired, "
        "or was already opened.",
        _START_AGAIN,
        exc.code,
    )


def callback_failure(exc: CDConnectError, *, redirect_error: bool) -> Failure:
    """The redirect back from Central Dispatch failed; ``redirect_error``: it said ``error=``."""
    if isinstance(exc, StateMismatch):
        return Failure(
            400,
            "This sign-in has expired or was already used",
            "The answer from Central Dispatch does not belong to a connect that is still "
            "waiting: it expired, was completed already, or was started somewhere else. "
            "Nothing was connected.",
            _START_AGAIN,
            exc.code,
        )
    if isinstance(exc, BrowserMismatch):
        return browser_mismatch_failure(exc)
    if isinstance(exc, IssuerMismatch):
        return Failure(
            400,
            "The answer did not come from Central Dispatch",
            "The sign-in answer names a different identity provider than the one this service "
            "trusts, so it was refused for your protection. Nothing was connected.",
            _START_AGAIN + " If this happens again, contact support with the reference below.",
            exc.code,
        )
    if isinstance(exc, MalformedCallback):
        return Failure(
            400,
            "The answer from Central Dispatch was incomplete",
            "The sign-in answer is missing information or is malformed. Nothing was connected.",
            _START_AGAIN,
            exc.code,
        )
    if isinstance(exc, AccessDenied):
        return Failure(
            403,
            "Central Dispatch access was not granted",
            "The sign-in was cancelled or access was refused, so nothing was connected.",
            "If you meant to connect your Central Dispatch account, go back to the application "
            "you came from and start again.",
            exc.code,
        )
    if isinstance(exc, OAuthError) and redirect_error:
        return Failure(
            400,
            "Central Dispatch refused the sign-in",
            f"Central Dispatch answered with the error “{exc.error}”. Nothing was connected.",
            _START_AGAIN,
            exc.code,
        )
    return exchange_failure(exc)


def browser_mismatch_failure(exc: BrowserMismatch) -> Failure:
    """403, not 400: the answer is well formed, but this browser may not finish this connect."""
    return Failure(
        403,
        "This sign-in was started in another browser",
        "For your protection, a connect must be finished in the browser that opened its connect "
        "link. This sign-in came back to a different browser (or one that blocks or cleared "
        "cookies), so nothing was connected.",
        "Go back to the application you came from and start connecting again, in this browser. "
        "If someone sent you a sign-in link, do not use it: ask for your own.",
        exc.code,
    )


def exchange_failure(exc: CDConnectError) -> Failure:
    if isinstance(exc, InvalidClient | UnauthorizedClient):
        return Failure(
            502,
            "This service is not set up correctly",
            "Central Dispatch did not accept this application's credentials. This is not a "
            "problem with your account. Nothing was connected.",
            "Please contact the application's support and mention the reference below.",
            exc.code,
        )
    if isinstance(exc, TokenEndpointError):
        return Failure(
            502,
            "Central Dispatch did not complete the connection",
            "You signed in, but Central Dispatch did not hand over access when we asked for it. "
            "Nothing was connected.",
            "Wait a minute, then go back to the application you came from and start again.",
            exc.code,
        )
    return Failure(
        503 if exc.code == "store_error" else 500,
        "The connection could not be saved",
        "Something went wrong on our side while finishing the connection.",
        "Try again in a few minutes. If it keeps happening, contact support with the reference "
        "below.",
        exc.code,
    )


class Pages:
    """Renders the package's Jinja2 templates (autoescaped) into responses."""

    def __init__(self) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("cdconnect.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self._env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status)

    def failure(self, failure: Failure, request_id: str, detail: str) -> HTMLResponse:
        return self.render(
            "failure.html", failure.status, failure=failure, request_id=request_id, detail=detail
        )

    def connected(self, *, recovered: bool) -> HTMLResponse:
        return self.render("connected.html", recovered=recovered)
