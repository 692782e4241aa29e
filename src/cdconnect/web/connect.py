"""The customer-facing connect flow: ``/connect/{link}`` → Central Dispatch → the callback.

Failures render a page (never JSON: a person is looking) with the right status and a reference
that is also logged. Nothing is stored on any failure: the manager only stores after a
successful code exchange. Opening a link binds the connect to the browser with a cookie
(``browser_binding``); the callback requires it and clears it whatever the outcome.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from cdconnect.errors import CDConnectError
from cdconnect.manager import ConnectResult
from cdconnect.web.browser_binding import BindingCookie
from cdconnect.web.context import ServiceContext, context_of
from cdconnect.web.middleware import request_id_of
from cdconnect.web.pages import Failure, callback_failure, link_failure

log = logging.getLogger("cdconnect.web.connect")


def outcome_url(return_url: str, result: ConnectResult) -> str:
    """``return_url`` with the outcome added to its query (existing parameters are kept)."""
    parts = urlsplit(return_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k not in ("cdconnect", "external_id")]
    outcome = "recovered" if result.recovered else "connected"
    query += [("cdconnect", outcome), ("external_id", result.connection.external_id)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _failed(
    request: Request, context: ServiceContext, failure: Failure, exc: CDConnectError
) -> Response:
    request_id = request_id_of(request.scope)
    log.warning(
        "connect failed: %s (%s) status=%d reference=%s",
        failure.code,
        exc,
        failure.status,
        request_id,
        extra={"request_id": request_id, "code": failure.code},
    )
    return context.pages.failure(failure, request_id, str(exc))


def binding_cookie(context: ServiceContext) -> BindingCookie:
    return BindingCookie.for_service(context.public_url, context.settings.redirect_uri)


def open_link(request: Request, link: str) -> Response:
    """Spend the single-use link, bind it to this browser, send it to Central Dispatch's sign-in."""
    context = context_of(request)
    if request.method == "HEAD":
        # Link scanners and unfurlers probe with HEAD: answering must not spend the link.
        return Response(status_code=200, media_type="text/html")
    try:
        opened = context.manager.open_connect_session(link)
    except CDConnectError as exc:
        # No cookie is touched: a second click on a spent link must not break the first one.
        return _failed(request, context, link_failure(exc), exc)
    response = RedirectResponse(opened.authorize_url, status_code=302)
    binding_cookie(context).set(response, opened.browser_secret, expires_in=opened.expires_in)
    return response


def callback(request: Request) -> Response:
    """Check the answer and the browser, exchange the code, store, send the browser on."""
    context = context_of(request)
    cookie = binding_cookie(context)
    response = _finish(request, context, cookie.read(request))
    # A sign-in comes back here once: whatever the outcome, the cookie has done its job.
    cookie.clear(response)
    return response


def _finish(request: Request, context: ServiceContext, browser_secret: str | None) -> Response:
    query = request.url.query
    try:
        result = context.manager.complete_connect(query, browser_secret=browser_secret)
    except CDConnectError as exc:
        redirect_error = any(name == "error" for name, _ in parse_qsl(query))
        return _failed(request, context, callback_failure(exc, redirect_error=redirect_error), exc)
    log.info(
        "connected external_id=%r recovered=%s",
        result.connection.external_id,
        result.recovered,
        extra={"request_id": request_id_of(request.scope)},
    )
    if result.return_url:
        return RedirectResponse(outcome_url(result.return_url, result), status_code=303)
    return context.pages.connected(recovered=result.recovered)


def connect_router(callback_path: str) -> APIRouter:
    router = APIRouter(tags=["connect"])
    # The callback first: a redirect URI like /connect/callback must not be taken for a link.
    router.add_api_route(
        callback_path,
        callback,
        methods=["GET"],
        name="callback",
        summary="Where Central Dispatch sends the browser back (the redirect URI)",
        response_class=Response,
    )
    router.add_api_route(
        "/connect/{link}",
        open_link,
        methods=["GET"],
        name="connect",
        summary="Open a connect link: redirects the browser to Central Dispatch's sign-in",
        response_class=Response,
    )
    router.add_api_route(
        "/connect/{link}",
        open_link,
        methods=["HEAD"],
        name="connect_head",
        include_in_schema=False,
        response_class=Response,
    )
    return router
