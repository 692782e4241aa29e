"""Starting and finishing a customer's connect (authorization-code flow with state and PKCE)."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from cdconnect.errors import BrowserMismatch, StateMismatch
from cdconnect.manager.inputs import (
    check_external_id,
    check_return_url,
    check_scope,
    parse_allow_list,
)
from cdconnect.models import Clock, Connection, ConnectionStatus, TokenResponse
from cdconnect.oauth import (
    ClientCredentials,
    TokenRequest,
    authorization_code_request,
    build_authorization_request,
    parse_callback,
    read_claims,
    validate_callback,
)
from cdconnect.settings import Settings
from cdconnect.vault.api import (
    ConnectionRow,
    ConnectionStore,
    NewTokens,
    PendingAuthorization,
    secret_hash,
)

log = logging.getLogger("cdconnect.connect")


@dataclass(frozen=True, slots=True)
class ConnectStart:
    """Where to send the customer's browser, and until when that link works."""

    authorize_url: str
    external_id: str
    expires_at: float

    def __repr__(self) -> str:
        return f"ConnectStart(external_id={self.external_id!r}, expires_at={self.expires_at})"


@dataclass(frozen=True, slots=True)
class ConnectResult:
    """A finished connect: the stored connection and where to send the browser next."""

    connection: Connection
    return_url: str | None
    #: The status the external id's connection had before (None: a brand-new connection).
    previous_status: ConnectionStatus | None

    @property
    def recovered(self) -> bool:
        """A connection that needed a new login got one."""
        return self.previous_status is ConnectionStatus.REAUTH_REQUIRED


@dataclass(frozen=True, slots=True)
class ConnectSession:
    """A single-use link id the service turns into ``/connect/{link}`` for the vendor's user."""

    link: SecretStr
    external_id: str
    expires_at: float

    def __repr__(self) -> str:
        return f"ConnectSession(external_id={self.external_id!r}, expires_at={self.expires_at})"


@dataclass(frozen=True, slots=True)
class OpenedConnect:
    """An opened connect link: where to send the browser, and the secret that browser must keep.

    The service hands ``browser_secret`` to the browser (a cookie) and passes it back to
    ``complete_connect``: only the browser that opened the link can finish the connect.
    """

    authorize_url: str
    browser_secret: SecretStr
    #: Seconds until the pending authorization expires (what the secret is good for).
    expires_in: float

    def __repr__(self) -> str:
        # The authorize URL carries the state: keep it out of logs and tracebacks.
        return f"OpenedConnect(expires_in={self.expires_in})"


def check_browser(pending: PendingAuthorization, browser_secret: str | None) -> None:
    """Refuse a bound authorization unless ``browser_secret`` is the one it was bound to."""
    expected = pending.browser_binding_hash
    if expected is None:
        return  # begin_connect: the library user binds the browser in their own app
    # Hashes of equal length, compared in constant time: timing says nothing about the secret.
    matches = browser_secret is not None and hmac.compare_digest(
        secret_hash(SecretStr(browser_secret)), expected
    )
    if not matches:
        log.warning(
            "connect of %r refused: finished in another browser than the one that opened its link",
            pending.external_id,
        )
        raise BrowserMismatch(
            "this sign-in was started in another browser: open the connect link again from the "
            "same browser"
        )


def query_of(callback: str) -> str:
    """Accept the full callback URL or just its query string."""
    _, sep, query = callback.partition("?")
    query = query if sep else callback
    return query.split("#", 1)[0]


class ConnectFlow:
    """``begin`` stores a pending authorization; ``complete`` checks the callback and exchanges."""

    def __init__(
        self,
        settings: Settings,
        store: ConnectionStore,
        send_token_request: Callable[[TokenRequest], TokenResponse],
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._store = store
        self._send = send_token_request
        self._clock = clock
        self._credentials: ClientCredentials = settings.connect_credentials()
        self._allowed_return_urls = parse_allow_list(settings.allowed_return_urls)

    def begin(
        self, external_id: str, *, return_url: str | None, scope: tuple[str, ...] | None
    ) -> ConnectStart:
        return self._begin(external_id, return_url=return_url, scope=scope)[0]

    def _begin(
        self, external_id: str, *, return_url: str | None, scope: tuple[str, ...] | None
    ) -> tuple[ConnectStart, str]:
        check_external_id(external_id)
        scope = check_scope(scope)
        if return_url is not None:
            check_return_url(return_url, self._allowed_return_urls)
        settings = self._settings
        request = build_authorization_request(
            authorize_endpoint=settings.authorize_endpoint,
            client_id=self._credentials.client_id,
            redirect_uri=settings.redirect_uri,
            scope=scope or settings.scopes,
            pkce=settings.pkce,
        )
        now = self._clock()
        pending = self._store.create_pending(
            state=request.state,
            external_id=external_id,
            redirect_uri=request.redirect_uri,
            scope=request.scope,
            issuer=settings.issuer,
            code_verifier=request.code_verifier,
            return_url=return_url,
            now=now,
            expires_at=now + settings.state_ttl,
        )
        return ConnectStart(request.url, external_id, pending.expires_at), pending.id

    def begin_session(
        self, external_id: str, *, return_url: str | None, scope: tuple[str, ...] | None
    ) -> ConnectSession:
        """Like ``begin``, but hand out an opaque single-use link instead of the authorize URL.

        The link is safe to pass through the vendor's systems: it reveals nothing, works once,
        and expires with the pending authorization.
        """
        start, pending_id = self._begin(external_id, return_url=return_url, scope=scope)
        link = SecretStr(secrets.token_urlsafe(32))
        self._store.attach_connect_link(
            pending_id, link=link, authorize_url=SecretStr(start.authorize_url)
        )
        return ConnectSession(link, external_id, start.expires_at)

    def open_session(self, link: str) -> OpenedConnect:
        """Spend a connect link and bind its authorization to a new secret for this browser."""
        browser_secret = SecretStr(secrets.token_urlsafe(32))
        now = self._clock()
        opened = self._store.open_connect_link(
            SecretStr(link), browser_secret=browser_secret, now=now
        )
        if opened is None:
            raise StateMismatch("this connect link is unknown, expired or already used")
        return OpenedConnect(
            opened.authorize_url.get_secret_value(), browser_secret, opened.expires_at - now
        )

    def complete(
        self, callback: str, *, browser_secret: str | None = None
    ) -> tuple[ConnectResult, ConnectionRow, TokenResponse]:
        params = parse_callback(query_of(callback))
        # The pending record is found by a hash of the state and consumed at once: a replayed,
        # forged or expired state finds nothing, and nothing is stored.
        pending = self._store.consume_pending(params.state, now=self._clock())
        if pending is None:
            raise StateMismatch("unknown, expired or already used state: start the connect again")
        # Checked after consuming: a callback from the wrong browser spends the authorization,
        # so its code can never be finished anywhere (not even by the right browser later).
        check_browser(pending, browser_secret)
        # The hash lookup above already matched the state; validate_callback still compares it
        # (constant time) and checks iss and error responses.
        validated = validate_callback(
            params,
            expected_state=params.state,
            expected_issuer=pending.issuer,
            require_iss=self._settings.require_iss,
        )
        response = self._send(
            authorization_code_request(
                self._settings.token_endpoint,
                self._credentials,
                code=validated.code,
                redirect_uri=pending.redirect_uri,
                code_verifier=pending.code_verifier,
            )
        )
        if response.refresh_token is None:
            log.warning(
                "connect of %r returned no refresh token (is offline_access granted?)",
                pending.external_id,
            )
        before = self._store.get_connection(pending.external_id)
        row = self._store.save_connected(
            pending.external_id,
            NewTokens(
                access_token=response.access_token,
                access_expires_at=response.expires_at,
                refresh_token=response.refresh_token,
                scope=response.scope if response.scope is not None else pending.scope,
                claims=read_claims(response.access_token),
            ),
            now=self._clock(),
        )
        previous = before.status if before is not None else None
        return ConnectResult(row.public(), pending.return_url, previous), row, response
