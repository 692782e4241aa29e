"""Helpers for the sandbox's own tests: build authorization requests, log in, get tokens.

They work with any ``httpx.Client`` whose ``base_url`` is the sandbox (a Starlette TestClient
in-process or a client of a running ``SandboxServer``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import jwt
from fastapi import FastAPI

from cdconnect.sandbox import (
    BROKER_EMAIL,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SERVICE_REDIRECT_URI,
    TEST_PASSWORD,
    login,
)

IN_PROCESS_BASE = "https://sandbox.test"
DEMO_AUTH = (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
DEFAULT_SCOPE = "marketplace offline_access"

#: ``make_app(**config_changes)``: a fresh in-process sandbox app.
AppFactory = Callable[..., FastAPI]
#: ``open_client(app)``: an in-process ``httpx.Client`` of an app.
ClientOpener = Callable[[FastAPI], httpx.Client]


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def authorize_params(**overrides: str | None) -> dict[str, str]:
    """A valid authorization request; an override of ``None`` removes that parameter."""
    params: dict[str, str | None] = {
        "client_id": DEMO_CLIENT_ID,
        "response_type": "code",
        "grant_type": "authorization_code",
        "redirect_uri": SERVICE_REDIRECT_URI,
        "scope": DEFAULT_SCOPE,
        "state": "state-123",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize_url(base: str, **overrides: str | None) -> str:
    return f"{base}/connect/authorize?{urlencode(authorize_params(**overrides))}"


def query_of(location: str) -> dict[str, str]:
    """The query parameters of a redirect ``Location``."""
    return dict(parse_qsl(urlsplit(location).query))


def pkce_pair() -> tuple[str, str]:
    """A fresh (verifier, S256 challenge) pair, computed independently of the sandbox."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def obtain_code(
    http: httpx.Client, base: str, *, email: str = BROKER_EMAIL, **overrides: str | None
) -> str:
    """Log in and return the authorization code from the callback."""
    location = login(http, authorize_url(base, **overrides), email, TEST_PASSWORD)
    return query_of(location)["code"]


def exchange(
    http: httpx.Client,
    code: str,
    *,
    redirect_uri: str = SERVICE_REDIRECT_URI,
    verifier: str | None = None,
    auth: tuple[str, str] = DEMO_AUTH,
) -> httpx.Response:
    """Redeem a code with client_secret_post."""
    form = {
        "client_id": auth[0],
        "client_secret": auth[1],
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    return http.post("/connect/token", data=form)


def refresh(
    http: httpx.Client,
    refresh_token: str,
    *,
    auth: tuple[str, str] = DEMO_AUTH,
    timeout: httpx.Timeout | None = None,
    **extra: str,
) -> httpx.Response:
    """Refresh with client_secret_post; ``extra`` goes into the form."""
    form = {
        "client_id": auth[0],
        "client_secret": auth[1],
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        **extra,
    }
    return http.post("/connect/token", data=form, timeout=timeout or httpx.USE_CLIENT_DEFAULT)


def connect(http: httpx.Client, base: str, *, email: str = BROKER_EMAIL) -> dict[str, Any]:
    """Log in and redeem the code; returns the token response JSON."""
    response = exchange(http, obtain_code(http, base, email=email))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def claims_of(access_token: str) -> dict[str, Any]:
    """The claims of a JWT, without verifying it (the tests verify separately)."""
    claims: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    return claims
