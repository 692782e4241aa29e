"""``POST /connect/token`` and ``POST /connect/revocation``."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cdconnect.sandbox.access_tokens import token_response_body
from cdconnect.sandbox.client_auth import authenticate_client
from cdconnect.sandbox.config import GRANT_TYPES
from cdconnect.sandbox.counters import OTHER_GRANT
from cdconnect.sandbox.forms import ParsedParams
from cdconnect.sandbox.grants import GRANT_HANDLERS, revoke_token
from cdconnect.sandbox.hostile import HostileKind, decoy_success_body, hostile_answer
from cdconnect.sandbox.records import Issuance, TokenFailure
from cdconnect.sandbox.routes.common import (
    NO_STORE,
    DroppedResponse,
    failure_response,
    issuer_of,
    oauth_json,
    read_form,
)
from cdconnect.sandbox.state import SandboxState

_BAD_GATEWAY_PAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>"
_HANG_POLL_SECONDS = 0.05


def token_router(state: SandboxState) -> APIRouter:
    router = APIRouter()

    @router.post("/connect/token")
    async def token(request: Request) -> Response:
        response, outcome, grant_type = await _answer_token_request(state, request)
        with state.lock:
            state.counters.token_call(grant_type, outcome)
            latency = state.faults.latency
        if outcome == "hung":
            await _hang(state)
        elif latency > 0:
            await anyio.sleep(latency)
        return response

    @router.post("/connect/revocation")
    async def revocation(request: Request) -> Response:
        response, outcome = await _answer_revocation(state, request)
        with state.lock:
            state.counters.revocation_calls[outcome] += 1
        return response

    return router


async def _answer_token_request(state: SandboxState, request: Request) -> tuple[Response, str, str]:
    """The answer, the outcome to count and the grant type to count it under."""
    form = await read_form(request)
    grant_type = OTHER_GRANT
    if isinstance(form, ParsedParams):
        given = form.values.get("grant_type", "")
        grant_type = given if given in GRANT_TYPES else OTHER_GRANT
    # A 5xx fault strikes before anything is read or consumed.
    if state.roll_for_5xx():
        return _fault_5xx(state.faults.error_with_body), "fault_5xx", grant_type
    # So does a hostile answer whose kind does not commit first.
    early = state.claim_hostile_answer(grant_type, committed=False)
    if early is not None:
        return _hostile(early, decoy_success_body()), "hostile", grant_type
    result = _run_grant(state, request, form)
    if isinstance(result, TokenFailure):
        return failure_response(result, request), result.error, grant_type
    response, outcome = _answer_success(state, request, result, grant_type)
    return response, outcome, grant_type


def _answer_success(
    state: SandboxState, request: Request, result: Issuance, grant_type: str
) -> tuple[Response, str]:
    """The answer to a grant that succeeded (and is committed): tokens, or a fault's answer."""
    body = token_response_body(
        result,
        key=state.signing_key,
        issuer=issuer_of(state, request),
        ttl=state.config.access_token_ttl,
    )
    if result.after_commit == "drop":
        return DroppedResponse(), "dropped"
    if result.after_commit == "hang":
        return DroppedResponse(), "hung"
    late = state.claim_hostile_answer(grant_type, committed=True)
    if late is not None:
        return _hostile(late, body), "hostile"
    return oauth_json(body), "ok"


def _hostile(kind: HostileKind, success_body: dict[str, object]) -> Response:
    answer = hostile_answer(kind, success_body)
    return Response(
        answer.body, status_code=answer.status, media_type=answer.media_type, headers=NO_STORE
    )


def _run_grant(
    state: SandboxState, request: Request, form: ParsedParams | TokenFailure
) -> Issuance | TokenFailure:
    if isinstance(form, TokenFailure):
        return form
    if form.repeated:
        names = ", ".join(sorted(form.repeated))
        return TokenFailure("invalid_request", f"parameters repeated: {names}")
    client = authenticate_client(state, form.values, request.headers.get("authorization"))
    if isinstance(client, TokenFailure):
        return client
    grant_type = form.values.get("grant_type")
    if grant_type is None:
        return TokenFailure("invalid_request", "grant_type is required")
    handler = GRANT_HANDLERS.get(grant_type)
    if handler is None:
        return TokenFailure("unsupported_grant_type", "grant_type is not supported")
    if grant_type not in client.allowed_grant_types:
        return TokenFailure("unauthorized_client", "this client may not use this grant_type")
    return handler(state, client, form.values)


def _fault_5xx(with_body: bool) -> Response:
    if with_body:
        body = {
            "error": "temporarily_unavailable",
            "error_description": "the sandbox is failing on purpose (error_rate fault)",
        }
        return oauth_json(body, 503, **{"Retry-After": "1"})
    return HTMLResponse(_BAD_GATEWAY_PAGE, status_code=502, headers=NO_STORE)


async def _hang(state: SandboxState) -> None:
    """Wait until the sandbox is reset or shut down (or ``hang_seconds`` pass)."""
    release = state.hang_release()
    waited = 0.0
    while not release.is_set() and waited < state.config.hang_seconds:
        await anyio.sleep(_HANG_POLL_SECONDS)
        waited += _HANG_POLL_SECONDS


async def _answer_revocation(state: SandboxState, request: Request) -> tuple[Response, str]:
    form = await read_form(request)
    if isinstance(form, TokenFailure):
        return failure_response(form, request), form.error
    client = authenticate_client(state, form.values, request.headers.get("authorization"))
    if isinstance(client, TokenFailure):
        return failure_response(client, request), client.error
    token = form.values.get("token")
    if token is None or "token" in form.repeated:
        failure = TokenFailure("invalid_request", "exactly one token is required")
        return failure_response(failure, request), failure.error
    revoke_token(state, client, token)
    # RFC 7009 §2.2: 200 whether or not the token was known.
    return Response(status_code=200, headers=NO_STORE), "ok"
