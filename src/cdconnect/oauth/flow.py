"""The send logic for token requests, written once as a generator (sans-I/O).

The generator yields what to do next (send the request, or pause before retrying) and is told
what happened (a response, or a transport failure). :mod:`cdconnect.oauth.client` drives it with a
blocking ``httpx.Client`` or an ``httpx.AsyncClient``; neither driver holds any logic of its own.

Retry policy: only failures that prove the request never left (DNS, refused connection, connect
timeout, pool timeout) are retried here. Anything after the request may have been sent is
ambiguous — a single-use refresh token may already be consumed — so it surfaces at once as
:class:`~cdconnect.errors.ResponseLost` for the caller's triage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Generator, Mapping
from dataclasses import dataclass
from typing import TypeVar

import httpx

from cdconnect.errors import (
    InvalidTokenResponse,
    RequestNotSent,
    ResponseLost,
    TokenEndpointError,
)
from cdconnect.models import Clock, TokenResponse
from cdconnect.oauth.token_requests import TokenRequest
from cdconnect.oauth.token_responses import parse_revocation_response, parse_token_response

logger = logging.getLogger("cdconnect.oauth")

T = TypeVar("T")

#: httpx failures raised before any byte of the request could reach the server.
_NOT_SENT: tuple[type[httpx.RequestError], ...] = (
    httpx.ConnectError,  # includes DNS failures, refused connections and TLS handshake failures
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,  # our request was refused by our own HTTP stack
)


@dataclass(frozen=True, slots=True)
class SendAttempt:
    """Step: send ``request`` now (``attempt`` counts from 0)."""

    request: TokenRequest
    attempt: int


@dataclass(frozen=True, slots=True)
class Pause:
    """Step: wait ``seconds`` before the next attempt."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Received:
    """Outcome: the server answered (the body is capped by the driver)."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """Outcome: httpx raised before a complete response was read."""

    error: httpx.RequestError


Step = SendAttempt | Pause
Outcome = Received | TransportFailed | None
#: Turns a response into a result: ``(received, sent_at, secrets_sent) -> result``.
ResponseParser = Callable[[Received, float, Collection[str]], T]


def parse_token(received: Received, sent_at: float, secrets_sent: Collection[str]) -> TokenResponse:
    return parse_token_response(
        received.status_code, received.headers, received.body, now=sent_at, redact=secrets_sent
    )


def parse_revocation(received: Received, sent_at: float, secrets_sent: Collection[str]) -> None:
    del sent_at  # revocation results carry no expiry
    parse_revocation_response(
        received.status_code, received.headers, received.body, redact=secrets_sent
    )


def classify_transport_error(error: httpx.RequestError) -> TokenEndpointError:
    """The cdconnect error for an httpx failure; its ``delivery`` says if the server may have acted.

    The message names only the exception type: httpx messages can include addresses and are
    not needed to triage.
    """
    name = type(error).__name__
    if isinstance(error, _NOT_SENT):
        return RequestNotSent(f"the token request was not sent ({name})")
    if isinstance(error, httpx.DecodingError):
        return InvalidTokenResponse(f"the token response could not be decoded ({name})")
    # ReadTimeout, WriteTimeout, ReadError, WriteError, RemoteProtocolError, CloseError and
    # anything unforeseen: the request may have been processed.
    return ResponseLost(
        f"the token response was lost ({name}); the request may have been processed"
    )


def send_flow(
    request: TokenRequest,
    parse: ResponseParser[T],
    *,
    clock: Clock,
    connect_retries: int,
    backoff: float,
) -> Generator[Step, Outcome, T]:
    """Send ``request``, retrying only provably-unsent attempts, and parse the answer."""
    for attempt in range(connect_retries + 1):
        sent_at = clock()
        outcome = yield SendAttempt(request, attempt)
        if isinstance(outcome, Received):
            return _parsed(request, outcome, parse, sent_at=sent_at, clock=clock)
        if not isinstance(outcome, TransportFailed):
            raise TypeError("the driver must answer a SendAttempt with Received or TransportFailed")
        failure = classify_transport_error(outcome.error)
        final = not isinstance(failure, RequestNotSent) or attempt == connect_retries
        _log_transport_failure(request, failure, attempt=attempt, final=final)
        if final:
            raise failure from outcome.error
        yield Pause(backoff * 2**attempt)
    raise AssertionError("unreachable: connect_retries must be >= 0")


def _parsed(
    request: TokenRequest,
    received: Received,
    parse: ResponseParser[T],
    *,
    sent_at: float,
    clock: Clock,
) -> T:
    extra = {
        "grant_type": request.grant_type,
        "status_code": received.status_code,
        "duration_ms": round((clock() - sent_at) * 1000, 1),
    }
    try:
        result = parse(received, sent_at, request.secret_values())
    except TokenEndpointError as exc:
        logger.warning(
            "token request %s failed: HTTP %s, %s (%.1f ms)",
            request.grant_type,
            received.status_code,
            exc.code,
            extra["duration_ms"],
            extra={**extra, "error_code": exc.code},
        )
        raise
    logger.info(
        "token request %s succeeded: HTTP %s (%.1f ms)",
        request.grant_type,
        received.status_code,
        extra["duration_ms"],
        extra=extra,
    )
    return result


def _log_transport_failure(
    request: TokenRequest, failure: TokenEndpointError, *, attempt: int, final: bool
) -> None:
    logger.warning(
        "token request %s attempt %d: %s%s",
        request.grant_type,
        attempt + 1,
        failure,
        "" if final else "; retrying",
        extra={
            "grant_type": request.grant_type,
            "error_code": failure.code,
            "attempt": attempt + 1,
        },
    )
