"""The admin / token-broker JSON API (every route needs an admin bearer key).

Routes only translate: parse the request, call the manager, shape the answer. Library errors
become JSON errors in ``errors.py``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from cdconnect.models import ConnectionStatus
from cdconnect.web.admin_auth import bearer_scheme, check_admin
from cdconnect.web.context import ServiceContext, service_context
from cdconnect.web.schemas import (
    ConnectionOut,
    ConnectionPageOut,
    ConnectSessionRequest,
    ConnectSessionResponse,
    ErrorBody,
    TokenOut,
)

Context = Annotated[ServiceContext, Depends(service_context)]


async def require_admin(
    request: Request,
    context: Context,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> None:
    # async: checking a key is pure computation, so it must not cost a threadpool hop.
    check_admin(request, context.admin_keys)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in (401, 403, *statuses)}


router = APIRouter(prefix="/api", dependencies=[Depends(require_admin)], tags=["admin"])

# External ids are free text (up to 255 printable characters) and may contain "/", hence the
# ``path`` converter; the fixed suffixes below still match because the converter backtracks.
CONNECTION = "/connections/{external_id:path}"


@router.post(
    "/connect-sessions",
    status_code=201,
    response_model=ConnectSessionResponse,
    responses=_errors(413, 422),
    summary="Create a single-use connect link for a customer",
)
def create_connect_session(body: ConnectSessionRequest, context: Context) -> ConnectSessionResponse:
    session = context.manager.create_connect_session(
        body.external_id, return_url=body.return_url, scope=body.scope_tuple()
    )
    return ConnectSessionResponse(
        connect_url=context.connect_url(session.link.get_secret_value()),
        external_id=session.external_id,
        expires_at=session.expires_at,
    )


@router.get(
    "/connections",
    response_model=ConnectionPageOut,
    responses=_errors(422),
    summary="List connections (optionally by status), one page at a time",
)
def list_connections(
    context: Context,
    status: ConnectionStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> ConnectionPageOut:
    page = context.manager.list_connections(status=status, limit=limit, cursor=cursor)
    return ConnectionPageOut(
        items=[ConnectionOut.of(item) for item in page.items], next_cursor=page.next_cursor
    )


@router.post(
    CONNECTION + "/access-token",
    response_model=TokenOut,
    responses=_errors(404, 409, 422, 502, 503),
    summary="A valid access token for the customer (refreshed when needed)",
)
async def access_token(external_id: str, context: Context) -> TokenOut:
    # The async API: a cached token is returned without a thread hop or any I/O; a refresh
    # runs its database calls in threads and its HTTP call on the event loop.
    return TokenOut.of(await context.manager.aaccess_token(external_id), time.time())


@router.post(
    CONNECTION + "/refresh",
    response_model=TokenOut,
    responses=_errors(404, 409, 422, 502, 503),
    summary="Rotate the customer's tokens now and return the new access token",
)
async def refresh(external_id: str, context: Context) -> TokenOut:
    return TokenOut.of(await context.manager.arefresh(external_id, force=True), time.time())


@router.get(
    CONNECTION,
    response_model=ConnectionOut,
    responses=_errors(404, 422),
    summary="One connection (status, scope, expiry; never tokens)",
)
def get_connection(external_id: str, context: Context) -> ConnectionOut:
    return ConnectionOut.of(context.manager.get_connection(external_id))


@router.delete(
    CONNECTION,
    response_model=ConnectionOut,
    responses=_errors(404, 422),
    summary="Disconnect: forget the customer's tokens (revoked at CD when configured)",
)
def disconnect(external_id: str, context: Context) -> ConnectionOut:
    return ConnectionOut.of(context.manager.disconnect(external_id))


@router.get(
    "/client-token",
    response_model=TokenOut,
    responses=_errors(502, 503),
    summary="A client-credentials token for the integrator itself",
)
async def client_token(context: Context) -> TokenOut:
    return TokenOut.of(await context.manager.aclient_token(), time.time())
