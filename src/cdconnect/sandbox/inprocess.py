"""In-process access to a sandbox app (no sockets, no TLS), for fast tests.

``in_process_client(app)`` gives a synchronous ``httpx.Client``; ``SandboxASGITransport`` is the
asynchronous transport. Both report a dropped answer (drop-after-commit fault) the way a real
connection does, with ``httpx.RemoteProtocolError``. The hang fault blocks until the sandbox is
reset or its hangs are released, so use a real ``SandboxServer`` for hang tests.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal


class SandboxASGITransport(httpx.ASGITransport):
    """``httpx.ASGITransport`` that maps an unfinished answer to ``RemoteProtocolError``.

    httpx's ASGI transport asserts that the app completed its response; the sandbox's
    drop-after-commit fault deliberately does not.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except AssertionError as exc:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc


class SyncSandboxTransport(httpx.BaseTransport):
    """Runs the ASGI app on an event loop in a helper thread, for synchronous clients."""

    def __init__(self, app: Any) -> None:
        self._transport = SandboxASGITransport(app=app)
        self._portal_context: AbstractContextManager[BlockingPortal] = start_blocking_portal()
        self._portal = self._portal_context.__enter__()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._portal.call(self._handle, request)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        response = await self._transport.handle_async_request(request)
        body = await response.aread()
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )

    def close(self) -> None:
        self._portal_context.__exit__(None, None, None)


def in_process_client(
    app: Any, base_url: str = "https://sandbox.test", **kwargs: Any
) -> httpx.Client:
    """A synchronous client of ``app`` with no network; close it when done."""
    return httpx.Client(transport=SyncSandboxTransport(app), base_url=base_url, **kwargs)
