"""``httpx.Auth`` that injects a customer's bearer token and retries once after a 401."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from cdconnect.manager.core import ConnectionManager


class CDConnectAuth(httpx.Auth):
    """Use with ``httpx.Client(auth=manager.auth("acme"))`` or an ``AsyncClient``.

    On a 401 the token is refreshed with ``newer_than`` set to the rejected token's generation,
    so a burst of 401s costs at most one rotation, and a rotation someone else already did costs
    none. The request is retried once; a second 401 is returned to the caller.
    """

    def __init__(self, manager: ConnectionManager, external_id: str) -> None:
        self._manager = manager
        self._external_id = external_id

    def __repr__(self) -> str:
        return f"CDConnectAuth(external_id={self._external_id!r})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._manager.access_token(self._external_id)
        request.headers["Authorization"] = token.authorization_header()
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            response.read()
            token = self._manager.refresh(
                self._external_id, force=True, newer_than=token.generation
            )
            request.headers["Authorization"] = token.authorization_header()
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._manager.aaccess_token(self._external_id)
        request.headers["Authorization"] = token.authorization_header()
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            await response.aread()
            token = await self._manager.arefresh(
                self._external_id, force=True, newer_than=token.generation
            )
            request.headers["Authorization"] = token.authorization_header()
            yield request
