"""The one exception tree of cdconnect.

Every error raised on purpose by cdconnect derives from :class:`CDConnectError`. Messages never
contain token values, codes, client secrets or PKCE verifiers: they name the problem and, where
useful, the setting or parameter involved.
"""

from __future__ import annotations

from enum import StrEnum


class Delivery(StrEnum):
    """What we know about whether a token request reached Central Dispatch.

    The refresh triage (DESIGN §4.6) depends on it: a request that was *not sent* can be retried
    freely; an *ambiguous* one may have consumed the single-use refresh token; a *rejected* one
    got a definite answer from the server.
    """

    NOT_SENT = "not_sent"
    AMBIGUOUS = "ambiguous"
    REJECTED = "rejected"


class CDConnectError(Exception):
    """Root of every error cdconnect raises on purpose."""

    #: A stable machine-readable code (used by the service's JSON errors and the CLI).
    code: str = "cdconnect_error"


class InvalidInput(CDConnectError):
    """An argument is malformed (e.g. an empty or oversized external id)."""

    code = "invalid_input"


# --- configuration -------------------------------------------------------------------------


class ConfigurationError(CDConnectError):
    """Settings are missing, malformed or unsafe. ``problems`` holds one line per problem."""

    code = "configuration_error"

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class InsecureEndpointError(ConfigurationError):
    """An endpoint that must be HTTPS was given as ``http://`` (or another scheme)."""

    code = "insecure_endpoint"


# --- authorization request / callback -------------------------------------------------------


class CallbackError(CDConnectError):
    """The redirect back from Central Dispatch is unusable; nothing was exchanged or stored."""

    code = "callback_error"


class MalformedCallback(CallbackError):
    """A required parameter is missing, duplicated or malformed."""

    code = "malformed_callback"


class StateMismatch(CallbackError):
    """The ``state`` is unknown, expired, already used, or does not match."""

    code = "state_mismatch"


class IssuerMismatch(CallbackError):
    """The ``iss`` parameter (RFC 9207) is missing when required or names another issuer."""

    code = "issuer_mismatch"


class BrowserMismatch(CallbackError):
    """The callback arrived in another browser than the one that opened the connect link.

    Raised only for pending authorizations bound to a browser (the service's connect links);
    the pending authorization is spent all the same and nothing is exchanged or stored.
    """

    code = "browser_mismatch"


class ReturnUrlNotAllowed(CDConnectError):
    """A return URL is not on the configured allow-list (no open redirects)."""

    code = "return_url_not_allowed"


# --- talking to the token endpoint -----------------------------------------------------------


class TokenEndpointError(CDConnectError):
    """A token request failed. ``delivery`` says whether the request may have been processed."""

    code = "token_endpoint_error"
    delivery: Delivery = Delivery.REJECTED
    #: True when the failure is expected to go away by itself (back off and retry later).
    transient: bool = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


class RequestNotSent(TokenEndpointError):
    """DNS failure, connection refused, connect timeout: the request provably never left."""

    code = "request_not_sent"
    delivery = Delivery.NOT_SENT
    transient = True


class ResponseLost(TokenEndpointError):
    """Read timeout, reset after sending, 5xx without an OAuth body: the server may have acted."""

    code = "response_lost"
    delivery = Delivery.AMBIGUOUS
    transient = True


class InvalidTokenResponse(TokenEndpointError):
    """The server answered, but not with a usable token response (HTML, bad JSON, wrong types).

    Treated as ambiguous: a 200 with garbage may still have consumed a refresh token.
    """

    code = "invalid_token_response"
    delivery = Delivery.AMBIGUOUS


class OAuthError(TokenEndpointError):
    """An RFC 6749 §5.2 error response (or an authorization error on the callback)."""

    code = "oauth_error"
    #: The RFC 6749 ``error`` value this class stands for.
    error: str = "oauth_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        error: str | None = None,
        description: str | None = None,
        status_code: int | None = None,
    ) -> None:
        if error is not None:
            self.error = error
        self.description = description
        text = message or (f"{self.error}: {description}" if description else self.error)
        super().__init__(text, status_code=status_code)


class InvalidRequest(OAuthError):
    error = code = "invalid_request"


class InvalidClient(OAuthError):
    """Our client credentials are wrong: a global incident, never a per-customer one."""

    error = code = "invalid_client"


class UnauthorizedClient(OAuthError):
    """The client may not use this grant: a configuration problem on our side."""

    error = code = "unauthorized_client"


class InvalidGrant(OAuthError):
    """The code or refresh token is invalid, expired, revoked or already used."""

    error = code = "invalid_grant"


class UnsupportedGrantType(OAuthError):
    error = code = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = code = "invalid_scope"


class AccessDenied(OAuthError):
    """The user (or CD) refused the authorization, e.g. the Cancel button on the login page."""

    error = code = "access_denied"


class ServerError(OAuthError):
    error = code = "server_error"
    transient = True


class TemporarilyUnavailable(OAuthError):
    error = code = "temporarily_unavailable"
    transient = True


class SlowDown(OAuthError):
    """HTTP 429 with an OAuth body: the request was refused without being processed."""

    error = code = "slow_down"
    transient = True


# --- connections ------------------------------------------------------------------------------


class ConnectionNotFound(CDConnectError):
    """No connection exists for this external id."""

    code = "connection_not_found"


class ReauthorizationRequired(CDConnectError):
    """The customer must log in to Central Dispatch again; ``reason`` says why."""

    code = "reauth_required"

    def __init__(self, external_id: str, reason: str | None) -> None:
        self.external_id = external_id
        self.reason = reason
        super().__init__(
            f"connection {external_id!r} needs a new Central Dispatch login"
            + (f" ({reason})" if reason else "")
        )


class ConnectionDisconnected(CDConnectError):
    """The connection was disconnected; it holds no tokens."""

    code = "disconnected"


class RefreshUnavailable(CDConnectError):
    """No valid access token and the refresh keeps failing transiently; try again later."""

    code = "refresh_unavailable"


class LeaseTimeout(RefreshUnavailable):
    """Waited too long for another worker's refresh of the same connection."""

    code = "lease_timeout"


# --- storage ----------------------------------------------------------------------------------


class StoreError(CDConnectError):
    """The database is unreachable or its schema is not what this version expects."""

    code = "store_error"


class KeyRingError(CDConnectError):
    """Encryption keys are missing, malformed, or unable to decrypt a stored value."""

    code = "key_ring_error"


class DecryptionError(KeyRingError):
    """A ciphertext failed authentication: wrong key, wrong row/field, or tampering."""

    code = "decryption_error"


#: RFC 6749 §5.2 / §4.1.2.1 ``error`` values mapped to their exception classes.
OAUTH_ERRORS: dict[str, type[OAuthError]] = {
    cls.error: cls
    for cls in (
        InvalidRequest,
        InvalidClient,
        UnauthorizedClient,
        InvalidGrant,
        UnsupportedGrantType,
        InvalidScope,
        AccessDenied,
        ServerError,
        TemporarilyUnavailable,
        SlowDown,
    )
}
