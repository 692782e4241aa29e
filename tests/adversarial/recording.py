"""HTTP transports that note every secret the manager sends to or receives from the token
endpoint (client secret, code, PKCE verifier, refresh and access tokens), then pass the exchange
through unchanged. They observe at the boundary; nothing in cdconnect is replaced."""

from __future__ import annotations

from typing import Any

import httpx

from tests.adversarial.secret_net import SecretNet


class RecordingTransport(httpx.HTTPTransport):
    def __init__(self, net: SecretNet, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._net = net

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._net.add_token_request(request.read())
        response = super().handle_request(request)
        self._net.add_token_response(response.read())
        return response


class AsyncRecordingTransport(httpx.AsyncHTTPTransport):
    def __init__(self, net: SecretNet, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._net = net

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._net.add_token_request(await request.aread())
        response = await super().handle_async_request(request)
        self._net.add_token_response(await response.aread())
        return response
