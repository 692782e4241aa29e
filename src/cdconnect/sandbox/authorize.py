"""Validation of authorization requests (``/connect/authorize``), separate from HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from cdconnect.sandbox.config import AUTHORIZATION_CODE, ClientRegistration
from cdconnect.sandbox.forms import ParsedParams
from cdconnect.sandbox.opaque import is_pkce_value
from cdconnect.sandbox.state import SandboxState

#: The parameters of an authorization request that the login form carries back.
AUTHORIZE_PARAMS = (
    "client_id",
    "response_type",
    "grant_type",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "login_hint",
)


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """A validated authorization request."""

    client: ClientRegistration
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    login_hint: str | None
    #: The request's parameters, to be carried through the login form.
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class UntrustedRedirect:
    """The client or redirect URI is unknown: show an error page, never redirect."""

    message: str


@dataclass(frozen=True, slots=True)
class RedirectError:
    """An error to send back to the (trusted) redirect URI (RFC 6749 §4.1.2.1)."""

    redirect_uri: str
    error: str
    description: str
    state: str | None


def validate(
    state: SandboxState, params: ParsedParams
) -> AuthorizeRequest | UntrustedRedirect | RedirectError:
    """Check an authorization request in RFC 6749's order: first whether the redirect URI can
    be trusted, then everything else (reported by redirect)."""
    values = params.values
    trusted = _trusted_target(state, params)
    if isinstance(trusted, UntrustedRedirect):
        return trusted
    client, redirect_uri = trusted
    problem = _request_problem(client, params)
    if problem is not None:
        error, description = problem
        return RedirectError(redirect_uri, error, description, values.get("state"))
    challenge = values.get("code_challenge")
    return AuthorizeRequest(
        client=client,
        redirect_uri=redirect_uri,
        scope=tuple(dict.fromkeys(values["scope"].split())),
        state=values.get("state"),
        code_challenge=challenge,
        login_hint=values.get("login_hint"),
        params=tuple((name, values[name]) for name in AUTHORIZE_PARAMS if name in values),
    )


def _trusted_target(
    state: SandboxState, params: ParsedParams
) -> tuple[ClientRegistration, str] | UntrustedRedirect:
    if params.repeated & {"client_id", "redirect_uri"}:
        return UntrustedRedirect("client_id and redirect_uri must appear only once.")
    client_id = params.values.get("client_id")
    if client_id is None:
        return UntrustedRedirect("The request has no client_id.")
    client = state.client(client_id)
    if client is None:
        return UntrustedRedirect("The client_id is not registered.")
    redirect_uri = params.values.get("redirect_uri")
    if redirect_uri is None:
        return UntrustedRedirect("The request has no redirect_uri.")
    if not state.is_registered_redirect(client, redirect_uri):
        return UntrustedRedirect("The redirect_uri is not registered for this client.")
    return client, redirect_uri


def _request_problem(client: ClientRegistration, params: ParsedParams) -> tuple[str, str] | None:
    values = params.values
    if params.repeated & set(AUTHORIZE_PARAMS):
        return "invalid_request", "parameters must not be repeated"
    response_type = values.get("response_type")
    if response_type is None:
        return "invalid_request", "response_type is required"
    if response_type != "code":
        return "unsupported_response_type", "only response_type=code is supported"
    # Central Dispatch lists grant_type=authorization_code as REQUIRED on this endpoint (not
    # standard OAuth). The sandbox holds clients to CD's documentation: absent or wrong is an
    # error, so a client that forgets it fails here rather than in production.
    if values.get("grant_type") != AUTHORIZATION_CODE:
        return "invalid_request", "grant_type=authorization_code is required"
    if AUTHORIZATION_CODE not in client.allowed_grant_types:
        return "unauthorized_client", "this client may not use the authorization code flow"
    scope = values.get("scope", "").split()
    if not scope:
        return "invalid_request", "scope is required"
    if not set(scope) <= set(client.allowed_scopes):
        return "invalid_scope", "a requested scope is not allowed for this client"
    return _pkce_problem(values.get("code_challenge"), values.get("code_challenge_method"))


def _pkce_problem(challenge: str | None, method: str | None) -> tuple[str, str] | None:
    if challenge is None:
        if method is not None:
            return "invalid_request", "code_challenge_method without code_challenge"
        return None
    # A missing method means "plain" (RFC 7636 §4.3), which the sandbox refuses.
    if method != "S256":
        return "invalid_request", "only code_challenge_method=S256 is supported"
    if not is_pkce_value(challenge):
        return "invalid_request", "code_challenge is malformed"
    return None


def redirect_with(redirect_uri: str, params: dict[str, str]) -> str:
    """``redirect_uri`` with ``params`` added to its query."""
    separator = "&" if "?" in redirect_uri else "?"
    return redirect_uri + separator + urlencode(params, quote_via=quote)


def error_redirect(error: RedirectError, issuer: str) -> str:
    """The redirect URI carrying an RFC 6749 error and the RFC 9207 ``iss``."""
    params = {"error": error.error, "error_description": error.description}
    if error.state is not None:
        params["state"] = error.state
    params["iss"] = issuer
    return redirect_with(error.redirect_uri, params)
