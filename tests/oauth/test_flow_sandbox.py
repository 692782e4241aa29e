"""The whole protocol, end to end over real HTTPS against the sandbox, using only cdconnect.oauth
(plus the sandbox's login driver standing in for the customer's browser)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr

from cdconnect.errors import AccessDenied, InvalidGrant, ResponseLost
from cdconnect.models import TokenResponse
from cdconnect.oauth import (
    AsyncTokenClient,
    TokenClient,
    authorization_code_request,
    build_async_http_client,
    build_authorization_request,
    build_http_client,
    client_credentials_request,
    parse_callback,
    read_claims,
    refresh_token_request,
    validate_callback,
)
from cdconnect.sandbox import (
    BROKER_EMAIL,
    CARRIER_EMAIL,
    SERVICE_REDIRECT_URI,
    TEST_PASSWORD,
    SandboxServer,
    login,
)
from cdconnect.settings import Settings, load_settings

pytestmark = pytest.mark.usefixtures("clean_environment")


@dataclass
class Protocol:
    """Settings and a token client for the sandbox, plus a browser to log in with."""

    settings: Settings
    tokens: TokenClient
    browser: httpx.Client

    def connect(self, email: str = BROKER_EMAIL) -> TokenResponse:
        """Authorize → log in → validate the callback → exchange the code."""
        settings = self.settings
        request = build_authorization_request(
            authorize_endpoint=settings.authorize_endpoint,
            client_id=settings.client_id,
            redirect_uri=settings.redirect_uri,
            scope=settings.scopes,
        )
        location = login(self.browser, request.url, email, TEST_PASSWORD)
        assert location.startswith(settings.redirect_uri + "?")
        callback = validate_callback(
            parse_callback(urlsplit(location).query),
            expected_state=request.state,
            expected_issuer=settings.issuer,
            require_iss=True,
        )
        assert callback.iss == settings.issuer
        return self.tokens.send(
            authorization_code_request(
                settings.token_endpoint,
                settings.connect_credentials(),
                code=callback.code,
                redirect_uri=request.redirect_uri,
                code_verifier=request.code_verifier,
            )
        )

    def refresh(self, refresh_token: SecretStr | None) -> TokenResponse:
        assert refresh_token is not None
        return self.tokens.send(
            refresh_token_request(
                self.settings.token_endpoint,
                self.settings.connect_credentials(),
                refresh_token=refresh_token,
            )
        )


def sandbox_settings(sandbox: SandboxServer) -> Settings:
    client, service = sandbox.authorization_client(), sandbox.service_client()
    return load_settings(
        issuer=sandbox.issuer,
        client_id=client.client_id,
        client_secret=client.client_secret,
        service_client_id=service.client_id,
        service_client_secret=service.client_secret,
        redirect_uri=SERVICE_REDIRECT_URI,
        ca_file=sandbox.ca_file,
    )


@pytest.fixture
def protocol(sandbox: SandboxServer) -> Iterator[Protocol]:
    settings = sandbox_settings(sandbox)
    with build_http_client(settings) as http, sandbox.http_client() as browser:
        yield Protocol(settings, TokenClient(http, sleep=lambda _: None), browser)


def listings(protocol: Protocol, token: TokenResponse) -> httpx.Response:
    with build_http_client(protocol.settings) as http:
        return http.get(
            f"{protocol.settings.issuer}/marketplace/v2/listings?limit(1,5)",
            headers={
                "Authorization": f"Bearer {token.access_token.get_secret_value()}",
                "Accept": "application/vnd.coxauto.v2+json",
            },
        )


def test_full_flow(protocol: Protocol) -> None:
    connected = protocol.connect()
    assert connected.refresh_token is not None
    assert connected.scope is not None and "marketplace" in connected.scope
    assert read_claims(connected.access_token)  # the sandbox issues JWTs

    first = protocol.refresh(connected.refresh_token)
    second = protocol.refresh(first.refresh_token)
    rotated = {
        t.refresh_token.get_secret_value() for t in (connected, first, second) if t.refresh_token
    }
    assert len(rotated) == 3  # every refresh returned a new refresh token

    with pytest.raises(InvalidGrant):  # single use: the first one is spent
        protocol.refresh(connected.refresh_token)

    service = protocol.tokens.send(
        client_credentials_request(
            protocol.settings.token_endpoint, protocol.settings.service_credentials()
        )
    )
    assert service.refresh_token is None

    response = listings(protocol, second)
    assert response.status_code == 200
    assert len(response.json()["items"]) == 5


def test_async_refresh(protocol: Protocol) -> None:
    connected = protocol.connect()
    assert connected.refresh_token is not None
    refresh = refresh_token_request(
        protocol.settings.token_endpoint,
        protocol.settings.connect_credentials(),
        refresh_token=connected.refresh_token,
    )

    async def send() -> TokenResponse:
        async with build_async_http_client(protocol.settings) as http:
            return await AsyncTokenClient(http).send(refresh)

    refreshed = asyncio.run(send())
    assert refreshed.refresh_token is not None
    assert listings(protocol, refreshed).status_code == 200


def test_drop_after_commit_is_response_lost(protocol: Protocol, sandbox: SandboxServer) -> None:
    connected = protocol.connect()
    sandbox.control.set_faults(drop_after_commit=1)
    with pytest.raises(ResponseLost):
        protocol.refresh(connected.refresh_token)
    # The server did rotate: the token we sent is spent although we never saw the answer.
    with pytest.raises(InvalidGrant):
        protocol.refresh(connected.refresh_token)


def test_revoked_account_is_invalid_grant(protocol: Protocol, sandbox: SandboxServer) -> None:
    connected = protocol.connect(CARRIER_EMAIL)
    assert sandbox.control.revoke_account(CARRIER_EMAIL) >= 1
    with pytest.raises(InvalidGrant):
        protocol.refresh(connected.refresh_token)


def test_cancelled_login_is_access_denied(protocol: Protocol) -> None:
    settings = protocol.settings
    request = build_authorization_request(
        authorize_endpoint=settings.authorize_endpoint,
        client_id=settings.client_id,
        redirect_uri=settings.redirect_uri,
        scope=settings.scopes,
    )
    location = login(protocol.browser, request.url, BROKER_EMAIL, TEST_PASSWORD, cancel=True)
    with pytest.raises(AccessDenied):
        validate_callback(
            parse_callback(urlsplit(location).query),
            expected_state=request.state,
            expected_issuer=settings.issuer,
            require_iss=True,
        )
