"""Pure ASGI middleware: request ids, security headers, access log, request body limit.

Plain ASGI (not ``BaseHTTPMiddleware``) keeps the per-request cost to a couple of function calls
and never buffers bodies.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import MutableMapping
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cdconnect.web.metrics import HTTP_REQUESTS

access_log = logging.getLogger("cdconnect.web.access")

REQUEST_ID_KEY = "cdconnect.request_id"
REQUEST_ID_HEADER = b"x-request-id"
#: Default request body limit: the largest legitimate body (a connect session) is ~3 KiB.
DEFAULT_MAX_BODY = 64 * 1024

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    # Pages carry single-use links and outcomes, API answers carry tokens: never cache.
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    # The authorize URL we redirect to carries state; never leak URLs to the next site.
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
HSTS = (b"strict-transport-security", b"max-age=31536000")
_OURS = frozenset(name for name, _ in (*SECURITY_HEADERS, HSTS, (REQUEST_ID_HEADER, b"")))


def request_id_of(scope: MutableMapping[str, Any]) -> str:
    """The id of the request (shown on error pages and logged), made on first use."""
    request_id = scope.get(REQUEST_ID_KEY)
    if not isinstance(request_id, str):
        request_id = scope[REQUEST_ID_KEY] = secrets.token_hex(8)
    return request_id


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/connect/{link}``), never the raw path: raw paths
    can hold connect links, and query strings hold authorization codes."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


class RequestContextMiddleware:
    """Gives each request an id, adds the security headers, logs and counts it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        extra = [*SECURITY_HEADERS, (REQUEST_ID_HEADER, request_id.encode())]
        if scope.get("scheme") == "https":
            extra.append(HSTS)
        status = 500
        started_response = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OURS]
                message["headers"] = kept + extra
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Answered here rather than by Starlette's outermost error handler, so that the
            # 500 carries the security headers and the reference like every other answer.
            access_log.error("request %s crashed", request_id, exc_info=True)
            if started_response:
                raise
            await self._internal_error(send_with_headers, request_id)
        finally:
            self._record(scope, status, time.perf_counter() - started, request_id)

    @staticmethod
    async def _internal_error(send: Send, request_id: str) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "internal_error",
                    "message": f"internal error (reference {request_id})",
                }
            }
        ).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _record(scope: Scope, status: int, seconds: float, request_id: str) -> None:
        route = route_template(scope)
        HTTP_REQUESTS.labels(method=scope["method"], route=route, status=str(status)).inc()
        access_log.info(
            "%s %s %d %.1fms",
            scope["method"],
            route,
            status,
            seconds * 1000,
            extra={
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )


def _too_large(limit: int) -> HTTPException:
    detail = {"code": "request_too_large", "message": f"the request body exceeds {limit} bytes"}
    return HTTPException(413, detail=detail)


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._announced_length(scope) > self.limit:
            await self._reject(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised inside the route's body read; the app's HTTPException handler
                    # turns it into the same 413 JSON answer.
                    raise _too_large(self.limit)
            return message

        await self.app(scope, limited_receive, send)

    @staticmethod
    def _announced_length(scope: Scope) -> int:
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "request_too_large",
                    "message": f"the request body exceeds {self.limit} bytes",
                }
            }
        )
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})
