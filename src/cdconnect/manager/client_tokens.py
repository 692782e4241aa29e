"""Client-credentials tokens for the integrator itself: cached per process, single flight."""

from __future__ import annotations

import threading

from cdconnect.manager.cache import AsyncKeyedLocks, TokenCache
from cdconnect.manager.endpoint import TokenEndpoint
from cdconnect.models import AccessToken, Clock, TokenResponse

_KEY = ""


class ClientTokens:
    """No database: a client-credentials token costs one request to get again, and no other
    process can spend it, so each process simply keeps its own."""

    def __init__(self, endpoint: TokenEndpoint, clock: Clock, margin: float) -> None:
        self._endpoint = endpoint
        self._clock = clock
        self._margin = margin
        self._cache = TokenCache()
        self._lock = threading.Lock()
        self._alocks = AsyncKeyedLocks()

    def get(self) -> AccessToken:
        token = self._cache.fresh(_KEY, self._clock())
        if token is not None:
            return token
        with self._lock:
            token = self._cache.fresh(_KEY, self._clock())
            if token is not None:
                return token
            return self._keep(self._endpoint.send(self._endpoint.client_credentials_request()))

    async def aget(self) -> AccessToken:
        token = self._cache.fresh(_KEY, self._clock())
        if token is not None:
            return token
        async with self._alocks(_KEY):
            token = self._cache.fresh(_KEY, self._clock())
            if token is not None:
                return token
            request = self._endpoint.client_credentials_request()
            return self._keep(await self._endpoint.asend(request))

    def _keep(self, response: TokenResponse) -> AccessToken:
        token = AccessToken(
            access_token=response.access_token,
            expires_at=response.expires_at,
            scope=response.scope or (),
        )
        self._cache.put(_KEY, token, response.expires_at - self._margin)
        return token
