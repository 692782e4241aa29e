"""``GET /connect/authorize`` (login page) and ``POST /connect/authorize`` (the login form)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from cdconnect.sandbox.authorize import (
    AuthorizeRequest,
    RedirectError,
    UntrustedRedirect,
    error_redirect,
    redirect_with,
    validate,
)
from cdconnect.sandbox.forms import ParsedParams, parse_params
from cdconnect.sandbox.grants import issue_code
from cdconnect.sandbox.opaque import same_secret
from cdconnect.sandbox.pages import error_page, login_page
from cdconnect.sandbox.records import TokenFailure
from cdconnect.sandbox.routes.common import issuer_of, read_form
from cdconnect.sandbox.state import SandboxState

WRONG_CREDENTIALS = "The email or password is incorrect."


def authorize_router(state: SandboxState) -> APIRouter:
    router = APIRouter()

    @router.get("/connect/authorize")
    async def show_login(request: Request) -> Response:
        checked = validate(state, parse_params(request.url.query))
        if not isinstance(checked, AuthorizeRequest):
            return _rejection(state, request, checked)
        return _login_form(state, checked, email=checked.login_hint or "")

    @router.post("/connect/authorize")
    async def submit_login(request: Request) -> Response:
        form = await read_form(request)
        if isinstance(form, TokenFailure):
            return error_page("The sign-in form could not be read.")
        checked = validate(state, form)
        if not isinstance(checked, AuthorizeRequest):
            return _rejection(state, request, checked)
        return _handle_login(state, request, checked, form)

    return router


def _rejection(
    state: SandboxState, request: Request, problem: UntrustedRedirect | RedirectError
) -> Response:
    if isinstance(problem, UntrustedRedirect):
        return error_page(problem.message)
    return _redirect(error_redirect(problem, issuer_of(state, request)))


def _redirect(location: str) -> Response:
    return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})


def _login_form(
    state: SandboxState, request: AuthorizeRequest, *, email: str, error: str | None = None
) -> Response:
    accounts = state.config.accounts if state.config.show_test_accounts else ()
    return login_page(
        client_id=request.client.client_id,
        scopes=request.scope,
        hidden=request.params,
        email=email,
        error=error,
        accounts=accounts,
    )


def _handle_login(
    state: SandboxState, request: Request, checked: AuthorizeRequest, form: ParsedParams
) -> Response:
    issuer = issuer_of(state, request)
    if form.values.get("action") == "cancel":
        denied = RedirectError(
            checked.redirect_uri, "access_denied", "the user cancelled the sign-in", checked.state
        )
        return _redirect(error_redirect(denied, issuer))
    email = form.values.get("email", "")
    account = state.config.account(email)
    password = form.values.get("password", "")
    if account is None or not same_secret(password, account.password):
        return _login_form(state, checked, email=email, error=WRONG_CREDENTIALS)
    scope = _granted_scope(state, checked.scope)
    code = issue_code(
        state,
        client=checked.client,
        redirect_uri=checked.redirect_uri,
        scope=scope,
        account=account,
        code_challenge=checked.code_challenge,
    )
    params = {"code": code, "scope": " ".join(scope)}
    if checked.state is not None:
        params["state"] = checked.state
    params["iss"] = issuer
    return _redirect(redirect_with(checked.redirect_uri, params))


def _granted_scope(state: SandboxState, requested: tuple[str, ...]) -> tuple[str, ...]:
    override = state.faults.granted_scope
    if override is None:
        return requested
    return tuple(dict.fromkeys(override.split()))
