"""JSON error answers: ``{"error": {"code", "message"}}`` with a stable code, everywhere.

Library errors map to HTTP statuses here and only here. Their messages are safe to show: the
exception tree promises they never carry token values, codes or secrets.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cdconnect.errors import (
    AccessDenied,
    BrowserMismatch,
    CallbackError,
    CDConnectError,
    ConfigurationError,
    ConnectionDisconnected,
    ConnectionNotFound,
    InvalidClient,
    InvalidInput,
    KeyRingError,
    ReauthorizationRequired,
    RefreshUnavailable,
    ReturnUrlNotAllowed,
    StoreError,
    TokenEndpointError,
    UnauthorizedClient,
)
from cdconnect.web.middleware import request_id_of

log = logging.getLogger("cdconnect.web")

#: Most specific class first: the first ``isinstance`` match decides.
_STATUS: tuple[tuple[type[CDConnectError], int], ...] = (
    (InvalidInput, 422),
    (ReturnUrlNotAllowed, 422),
    (ConnectionNotFound, 404),
    (ReauthorizationRequired, 409),
    (ConnectionDisconnected, 409),
    (RefreshUnavailable, 503),
    (AccessDenied, 403),
    (BrowserMismatch, 403),
    (CallbackError, 400),
    (InvalidClient, 502),
    (UnauthorizedClient, 502),
    (StoreError, 503),
    (KeyRingError, 500),
    (ConfigurationError, 500),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "request_too_large",
    415: "unsupported_media_type",
}

#: Seconds a client should wait before retrying a 503 (a refresh or the database is failing).
RETRY_AFTER = "5"


def status_for(exc: CDConnectError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    if isinstance(exc, TokenEndpointError):
        return 503 if exc.transient else 502
    return 500


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


def library_error_response(exc: CDConnectError) -> JSONResponse:
    status = status_for(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, ReauthorizationRequired):
        extra["reason"] = exc.reason
    headers = {"Retry-After": RETRY_AFTER} if status == 503 else None
    return error_response(status, exc.code, str(exc), headers=headers, **extra)


async def _library_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CDConnectError)
    response = library_error_response(exc)
    if response.status_code >= 500:
        log.warning("request %s failed: %s (%s)", request_id_of(request.scope), exc.code, exc)
    return response


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if isinstance(detail, dict) and {"code", "message"} <= detail.keys():
        code, message = str(detail["code"]), str(detail["message"])
    else:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = str(detail)
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, code, message, headers=headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    # Name the fields and the problems, never echo the values (they may be secrets).
    problems = [
        f"{'.'.join(str(part) for part in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        for error in errors[:5]
    ]
    return error_response(422, "invalid_input", "; ".join(problems) or "invalid request")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CDConnectError, _library_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
