"""The manager's side of the token endpoint: build requests, send them sync or async, count."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable

import httpx
from pydantic import SecretStr

from cdconnect.errors import TokenEndpointError
from cdconnect.metrics import TOKEN_REQUESTS
from cdconnect.models import Clock, TokenResponse
from cdconnect.oauth import (
    AsyncTokenClient,
    TokenClient,
    TokenRequest,
    client_credentials_request,
    refresh_token_request,
    revoke_request,
)
from cdconnect.settings import Settings

log = logging.getLogger("cdconnect.manager")


class TokenEndpoint:
    """Sends token requests for the manager; every request is counted by grant and result."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.Client,
        make_async_http: Callable[[], httpx.AsyncClient],
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._sync = TokenClient(http, clock=clock)
        self._make_async_http = make_async_http
        self._clock = clock
        # httpx async clients belong to the event loop they were first used on.
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncTokenClient]
        self._async = weakref.WeakKeyDictionary()
        self._async_http: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._async_http = weakref.WeakKeyDictionary()

    # -- requests -------------------------------------------------------------------------------
    def refresh_request(self, refresh_token: SecretStr) -> TokenRequest:
        return refresh_token_request(
            self._settings.token_endpoint,
            self._settings.connect_credentials(),
            refresh_token=refresh_token,
        )

    def client_credentials_request(self) -> TokenRequest:
        return client_credentials_request(
            self._settings.token_endpoint, self._settings.service_credentials()
        )

    # -- sending --------------------------------------------------------------------------------
    def send(self, request: TokenRequest) -> TokenResponse:
        try:
            response = self._sync.send(request)
        except TokenEndpointError as exc:
            _count(request, exc.code)
            raise
        _count(request, "ok")
        return response

    async def asend(self, request: TokenRequest) -> TokenResponse:
        try:
            response = await self._async_client().send(request)
        except TokenEndpointError as exc:
            _count(request, exc.code)
            raise
        _count(request, "ok")
        return response

    def refresh(self, refresh_token: SecretStr) -> TokenResponse:
        return self.send(self.refresh_request(refresh_token))

    async def arefresh(self, refresh_token: SecretStr) -> TokenResponse:
        return await self.asend(self.refresh_request(refresh_token))

    def revoke_refresh_token(self, refresh_token: SecretStr) -> None:
        """Best effort (RFC 7009): the local tokens are gone either way, and an unrevoked grant
        dies on CD's side with its lifetime. Only called when a revocation URL is configured."""
        url = self._settings.revocation_url
        if url is None:
            return
        request = revoke_request(
            url,
            self._settings.connect_credentials(),
            token=refresh_token,
            token_type_hint="refresh_token",
        )
        try:
            self._sync.revoke(request)
        except TokenEndpointError as exc:
            log.warning("revocation failed: %s", exc.code)

    async def aclose(self) -> None:
        """Close the async HTTP client of the running event loop, if one was made."""
        client = self._async_http.pop(asyncio.get_running_loop(), None)
        self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    def _async_client(self) -> AsyncTokenClient:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            http = self._async_http[loop] = self._make_async_http()
            client = self._async[loop] = AsyncTokenClient(http, clock=self._clock)
        return client


def _count(request: TokenRequest, result: str) -> None:
    TOKEN_REQUESTS.labels(grant=request.grant_type, result=result).inc()
