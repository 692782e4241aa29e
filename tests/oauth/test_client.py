"""The sync and async senders over httpx.MockTransport: one matrix, both drivers."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from pydantic import SecretStr

from cdconnect.errors import (
    InvalidGrant,
    InvalidTokenResponse,
    RequestNotSent,
    ResponseLost,
    TokenEndpointError,
)
from cdconnect.models import TokenResponse
from cdconnect.oauth import (
    AsyncTokenClient,
    TokenClient,
    TokenRequest,
    classify_transport_error,
    refresh_token_request,
    revoke_request,
)
from tests.oauth.helpers import (
    CLIENT_SECRET,
    CREDS,
    REFRESH_TOKEN,
    TOKEN_URL,
    form_of,
    token_body,
)

Handler = Callable[[httpx.Request], httpx.Response]
MODES = ["sync", "async"]


@dataclass
class FakeClock:
    now: float = 1000.0
    step: float = 0.5

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@dataclass
class Run:
    """What one send did: its result or error, the requests seen, the pauses taken."""

    result: TokenResponse | None = None
    error: TokenEndpointError | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)


def refresh_request() -> TokenRequest:
    return refresh_token_request(TOKEN_URL, CREDS, refresh_token=SecretStr(REFRESH_TOKEN))


def run(
    mode: str,
    handler: Handler,
    request: TokenRequest | None = None,
    *,
    clock: FakeClock | None = None,
    follow_redirects: bool = False,
) -> Run:
    outcome = Run()

    def recording(http_request: httpx.Request) -> httpx.Response:
        outcome.requests.append(http_request)
        return handler(http_request)

    token_request = request or refresh_request()
    transport = httpx.MockTransport(recording)
    clock = clock or FakeClock()
    try:
        if mode == "sync":
            with httpx.Client(transport=transport, follow_redirects=follow_redirects) as http:
                client = TokenClient(http, clock=clock, sleep=outcome.sleeps.append)
                outcome.result = client.send(token_request)
        else:
            outcome.result = asyncio.run(
                _send_async(transport, token_request, clock, outcome.sleeps, follow_redirects)
            )
    except TokenEndpointError as exc:
        outcome.error = exc
    return outcome


async def _send_async(
    transport: httpx.MockTransport,
    request: TokenRequest,
    clock: FakeClock,
    sleeps: list[float],
    follow_redirects: bool,
) -> TokenResponse:
    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with httpx.AsyncClient(transport=transport, follow_redirects=follow_redirects) as http:
        client = AsyncTokenClient(http, clock=clock, sleep=fake_sleep)
        return await client.send(request)


def ok(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=token_body(), headers={"Content-Type": "application/json"})


def raising(error: type[httpx.RequestError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("simulated", request=request)

    return handler


# -- success ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_success_posts_the_form_and_parses(mode: str) -> None:
    clock = FakeClock(now=1000.0, step=0.5)
    outcome = run(mode, ok, clock=clock)
    assert outcome.result is not None
    assert outcome.result.expires_in == 3600
    # expires_at counts from the moment the request was sent (first clock reading).
    assert outcome.result.expires_at == 1000.5 + 3600
    (sent,) = outcome.requests
    assert sent.method == "POST"
    assert str(sent.url) == TOKEN_URL
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Accept"] == "application/json"
    assert form_of(sent) == {
        "client_id": "vendor-client",
        "client_secret": CLIENT_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
    }
    assert outcome.sleeps == []


# -- transport failures -----------------------------------------------------------------------

NOT_SENT = [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout]
AMBIGUOUS = [
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("error", NOT_SENT)
def test_not_sent_is_retried_with_backoff_then_request_not_sent(
    mode: str, error: type[httpx.RequestError]
) -> None:
    outcome = run(mode, raising(error))
    assert isinstance(outcome.error, RequestNotSent)
    assert isinstance(outcome.error.__cause__, error)
    assert len(outcome.requests) == 3  # one try + connect_retries=2
    assert outcome.sleeps == [0.2, 0.4]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("error", AMBIGUOUS)
def test_ambiguous_failure_is_never_retried(mode: str, error: type[httpx.RequestError]) -> None:
    outcome = run(mode, raising(error))
    assert isinstance(outcome.error, ResponseLost)
    assert len(outcome.requests) == 1
    assert outcome.sleeps == []


@pytest.mark.parametrize("mode", MODES)
def test_not_sent_then_success(mode: str) -> None:
    failures = iter([httpx.ConnectError("refused")])

    def handler(request: httpx.Request) -> httpx.Response:
        for failure in failures:
            raise failure
        return ok(request)

    outcome = run(mode, handler)
    assert outcome.result is not None
    assert len(outcome.requests) == 2
    assert outcome.sleeps == [0.2]


@pytest.mark.parametrize("mode", MODES)
def test_not_sent_then_ambiguous_stops_at_once(mode: str) -> None:
    failures = iter([httpx.ConnectTimeout("slow"), httpx.ReadTimeout("lost")])

    def handler(request: httpx.Request) -> httpx.Response:
        raise next(failures)

    outcome = run(mode, handler)
    assert isinstance(outcome.error, ResponseLost)
    assert len(outcome.requests) == 2


def test_zero_retries_and_custom_backoff() -> None:
    sleeps: list[float] = []
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused")

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = TokenClient(http, connect_retries=0, sleep=sleeps.append)
        with pytest.raises(RequestNotSent):
            client.send(refresh_request())
        client = TokenClient(http, connect_retries=3, backoff=1.0, sleep=sleeps.append)
        with pytest.raises(RequestNotSent):
            client.send(refresh_request())
    assert len(calls) == 1 + 4
    assert sleeps == [1.0, 2.0, 4.0]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("dns"), RequestNotSent),
        (httpx.ProxyError("proxy"), RequestNotSent),
        (httpx.UnsupportedProtocol("x"), RequestNotSent),
        (httpx.LocalProtocolError("x"), RequestNotSent),
        (httpx.CloseError("x"), ResponseLost),
        (httpx.DecodingError("x"), InvalidTokenResponse),
        (httpx.TooManyRedirects("x"), ResponseLost),
    ],
)
def test_classification_of_other_httpx_errors(
    error: httpx.RequestError, expected: type[TokenEndpointError]
) -> None:
    classified = classify_transport_error(error)
    assert type(classified) is expected
    assert type(error).__name__ in str(classified)


def test_bad_retry_settings_refused() -> None:
    with httpx.Client(transport=httpx.MockTransport(ok)) as http:
        with pytest.raises(ValueError, match="connect_retries"):
            TokenClient(http, connect_retries=-1)
        with pytest.raises(ValueError, match="backoff"):
            TokenClient(http, backoff=-0.1)


# -- HTTP answers -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_oauth_error_is_not_retried(mode: str) -> None:
    outcome = run(mode, lambda _: httpx.Response(400, json={"error": "invalid_grant"}))
    assert isinstance(outcome.error, InvalidGrant)
    assert len(outcome.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_gateway_error_is_response_lost_not_retried(mode: str) -> None:
    outcome = run(mode, lambda _: httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert isinstance(outcome.error, ResponseLost)
    assert outcome.error.status_code == 502
    assert len(outcome.requests) == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("follow_redirects", [False, True])
def test_redirects_are_never_followed(mode: str, follow_redirects: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "elsewhere.example":
            return ok(request)
        return httpx.Response(307, headers={"Location": "https://elsewhere.example/steal"})

    outcome = run(mode, handler, follow_redirects=follow_redirects)
    assert isinstance(outcome.error, InvalidTokenResponse)
    assert [str(r.url) for r in outcome.requests] == [TOKEN_URL]


@dataclass
class CountingStream:
    """A 10 MiB body in 1 KiB chunks that records how much of it was consumed."""

    consumed: int = 0
    total_chunks: int = 10 * 1024

    def chunks(self) -> Iterator[bytes]:
        for _ in range(self.total_chunks):
            self.consumed += 1
            yield b" " * 1024

    async def achunks(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks():
            yield chunk


@pytest.mark.parametrize("mode", MODES)
def test_oversized_body_refused_without_reading_it_all(mode: str) -> None:
    stream = CountingStream()

    def handler(_: httpx.Request) -> httpx.Response:
        content = stream.chunks() if mode == "sync" else stream.achunks()
        return httpx.Response(200, content=content)

    outcome = run(mode, handler)
    assert isinstance(outcome.error, InvalidTokenResponse)
    assert "larger" in str(outcome.error)
    assert stream.consumed < 100


@pytest.mark.parametrize("mode", MODES)
def test_undecodable_compressed_body(mode: str) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not gzip", headers={"Content-Encoding": "gzip"})

    outcome = run(mode, handler)
    assert isinstance(outcome.error, InvalidTokenResponse)


@pytest.mark.parametrize("mode", MODES)
def test_compressed_body_is_fine(mode: str) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=gzip.compress(token_body()), headers={"Content-Encoding": "gzip"}
        )

    assert run(mode, handler).result is not None


# -- revocation -------------------------------------------------------------------------------


def test_revoke_sync_and_async() -> None:
    request = revoke_request(TOKEN_URL + "/revocation", CREDS, token=SecretStr(REFRESH_TOKEN))
    seen: list[str] = []

    def handler(http_request: httpx.Request) -> httpx.Response:
        seen.append(form_of(http_request)["token"])
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        TokenClient(http).revoke(request)

    async def revoke_async() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            await AsyncTokenClient(http).revoke(request)

    asyncio.run(revoke_async())
    assert seen == [REFRESH_TOKEN, REFRESH_TOKEN]


def test_revoke_failure_is_classified() -> None:
    request = revoke_request(TOKEN_URL + "/revocation", CREDS, token=SecretStr(REFRESH_TOKEN))
    transport = httpx.MockTransport(lambda _: httpx.Response(503, text="down"))
    with httpx.Client(transport=transport) as http, pytest.raises(ResponseLost):
        TokenClient(http).revoke(request)


# -- logging ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_logs_name_grant_and_status_but_never_secrets(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    echo = f"refresh token {REFRESH_TOKEN} unknown (client secret {CLIENT_SECRET})"
    responses = iter(
        [
            ok,
            lambda _: httpx.Response(
                400, json={"error": "invalid_grant", "error_description": echo}
            ),
            raising(httpx.ReadTimeout),
        ]
    )
    caplog.set_level(logging.DEBUG, logger="cdconnect.oauth")
    errors: list[TokenEndpointError] = []
    for handler in responses:
        outcome = run(mode, handler)
        if outcome.error is not None:
            errors.append(outcome.error)
    text = caplog.text + " ".join(str(e) for e in errors)
    for secret in (REFRESH_TOKEN, CLIENT_SECRET, "access.token.value", "new-refresh-token"):
        assert secret not in text
    assert "refresh_token succeeded: HTTP 200" in caplog.text
    assert "HTTP 400, invalid_grant" in caplog.text
    assert "ReadTimeout" in caplog.text
    records = [r for r in caplog.records if r.name == "cdconnect.oauth"]
    assert all(getattr(r, "grant_type", None) == "refresh_token" for r in records)
