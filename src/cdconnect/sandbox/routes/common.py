"""Helpers shared by the routes: issuer, OAuth JSON answers, strict form reading."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from cdconnect.sandbox.forms import ParsedParams, is_form, parse_params
from cdconnect.sandbox.records import TokenFailure
from cdconnect.sandbox.state import SandboxState

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def issuer_of(state: SandboxState, request: Request) -> str:
    """The configured issuer, or ``scheme://host[:port]`` of the request (IdentityServer's
    default), without a trailing slash."""
    if state.config.issuer:
        return state.config.issuer.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


def oauth_json(body: dict[str, Any], status: int = 200, **headers: str) -> JSONResponse:
    """A JSON answer that no cache may keep (RFC 6749 §5.1)."""
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **headers})


def failure_response(failure: TokenFailure, request: Request) -> JSONResponse:
    """RFC 6749 §5.2 error JSON; a 401 after Basic authentication carries a challenge."""
    body = {"error": failure.error, "error_description": failure.description}
    if failure.status == 401 and "authorization" in request.headers:
        return oauth_json(body, failure.status, **{"WWW-Authenticate": 'Basic realm="sandbox"'})
    return oauth_json(body, failure.status)


async def read_form(request: Request) -> ParsedParams | TokenFailure:
    """The request's URL-encoded form body, strictly parsed."""
    if not is_form(request.headers.get("content-type")):
        return TokenFailure("invalid_request", "expected application/x-www-form-urlencoded")
    try:
        raw = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        return TokenFailure("invalid_request", "the form body is not UTF-8")
    return parse_params(raw)


class DroppedResponse(Response):
    """Sends the status line and headers, announces a body, and never sends it.

    Under uvicorn the server then closes the connection, so the client sees the headers and an
    early end of stream (httpx raises ``RemoteProtocolError``): the answer is lost after the
    server has committed the request.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"4096"),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
