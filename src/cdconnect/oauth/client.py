"""Thin sync and async drivers of :func:`cdconnect.oauth.flow.send_flow` over httpx."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import TypeVar

import anyio
import httpx

from cdconnect.models import Clock, TokenResponse
from cdconnect.oauth.flow import (
    Outcome,
    Pause,
    Received,
    ResponseParser,
    SendAttempt,
    Step,
    TransportFailed,
    parse_revocation,
    parse_token,
    send_flow,
)
from cdconnect.oauth.json_body import MAX_RESPONSE_BYTES
from cdconnect.oauth.token_requests import TokenRequest

T = TypeVar("T")


class _SenderSettings:
    """Validated retry settings shared by both clients."""

    def __init__(self, *, clock: Clock, connect_retries: int, backoff: float) -> None:
        if connect_retries < 0:
            raise ValueError("connect_retries must be >= 0")
        if backoff < 0:
            raise ValueError("backoff must be >= 0")
        self.clock = clock
        self.connect_retries = connect_retries
        self.backoff = backoff

    def flow(self, request: TokenRequest, parse: ResponseParser[T]) -> Generator[Step, Outcome, T]:
        return send_flow(
            request,
            parse,
            clock=self.clock,
            connect_retries=self.connect_retries,
            backoff=self.backoff,
        )


class TokenClient:
    """Sends token requests with a blocking ``httpx.Client``.

    Use :func:`cdconnect.oauth.build_http_client` for a client with the right timeouts and TLS
    settings; ``sleep`` is injectable so tests need not wait through the backoff.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        clock: Clock = time.time,
        connect_retries: int = 2,
        backoff: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = http
        self._settings = _SenderSettings(
            clock=clock, connect_retries=connect_retries, backoff=backoff
        )
        self._sleep = sleep

    def send(self, request: TokenRequest) -> TokenResponse:
        """POST ``request``; return the validated response or raise a ``TokenEndpointError``."""
        return self._drive(self._settings.flow(request, parse_token))

    def revoke(self, request: TokenRequest) -> None:
        """POST an RFC 7009 revocation ``request``; raise a ``TokenEndpointError`` on failure."""
        self._drive(self._settings.flow(request, parse_revocation))

    def _drive(self, flow: Generator[Step, Outcome, T]) -> T:
        outcome: Outcome = None
        while True:
            try:
                step = flow.send(outcome)
            except StopIteration as stop:
                result: T = stop.value
                return result
            if isinstance(step, Pause):
                self._sleep(step.seconds)
                outcome = None
            else:
                outcome = self._perform(step)

    def _perform(self, step: SendAttempt) -> Received | TransportFailed:
        request = step.request
        try:
            # follow_redirects=False even if the caller's client follows them: a redirected
            # POST would carry our client secret and the customer's token to another URL.
            with self._http.stream(
                "POST",
                request.url,
                content=request.body(),
                headers=request.headers(),
                follow_redirects=False,
            ) as response:
                body = _read_capped(response.iter_bytes())
                return Received(response.status_code, response.headers, body)
        except httpx.RequestError as exc:
            return TransportFailed(exc)


class AsyncTokenClient:
    """Sends token requests with an ``httpx.AsyncClient`` (asyncio or trio, via anyio)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        clock: Clock = time.time,
        connect_retries: int = 2,
        backoff: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self._http = http
        self._settings = _SenderSettings(
            clock=clock, connect_retries=connect_retries, backoff=backoff
        )
        self._sleep = sleep

    async def send(self, request: TokenRequest) -> TokenResponse:
        """POST ``request``; return the validated response or raise a ``TokenEndpointError``."""
        return await self._drive(self._settings.flow(request, parse_token))

    async def revoke(self, request: TokenRequest) -> None:
        """POST an RFC 7009 revocation ``request``; raise a ``TokenEndpointError`` on failure."""
        await self._drive(self._settings.flow(request, parse_revocation))

    async def _drive(self, flow: Generator[Step, Outcome, T]) -> T:
        outcome: Outcome = None
        while True:
            try:
                step = flow.send(outcome)
            except StopIteration as stop:
                result: T = stop.value
                return result
            if isinstance(step, Pause):
                await self._sleep(step.seconds)
                outcome = None
            else:
                outcome = await self._perform(step)

    async def _perform(self, step: SendAttempt) -> Received | TransportFailed:
        request = step.request
        try:
            async with self._http.stream(
                "POST",
                request.url,
                content=request.body(),
                headers=request.headers(),
                follow_redirects=False,
            ) as response:
                body = await _aread_capped(response.aiter_bytes())
                return Received(response.status_code, response.headers, body)
        except httpx.RequestError as exc:
            return TransportFailed(exc)


def _read_capped(chunks: Iterator[bytes]) -> bytes:
    """Read at most one byte past the cap: enough for the parser to refuse an oversized body
    without ever holding (or decompressing) all of it."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > MAX_RESPONSE_BYTES:
            break
    return bytes(buffer[: MAX_RESPONSE_BYTES + 1])


async def _aread_capped(chunks: AsyncIterator[bytes]) -> bytes:
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) > MAX_RESPONSE_BYTES:
            break
    return bytes(buffer[: MAX_RESPONSE_BYTES + 1])
