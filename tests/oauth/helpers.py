"""Shared values and small builders for the protocol-layer tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from cdconnect.oauth import ClientCredentials

ISSUER = "https://id.example.test"
TOKEN_URL = f"{ISSUER}/connect/token"
AUTHORIZE_URL = f"{ISSUER}/connect/authorize"
REDIRECT_URI = "https://vendor.example.test/cd/callback"
CLIENT_SECRET = "client-secret-value-0123456789"
REFRESH_TOKEN = "refresh-token-value-abcdef0123456789"
ACCESS_TOKEN = "access.token.value"
CREDS = ClientCredentials("vendor-client", SecretStr(CLIENT_SECRET))
JSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/json; charset=utf-8"}


def token_body(**fields: Any) -> bytes:
    """A token response body; ``None`` values drop the field."""
    body: dict[str, Any] = {
        "access_token": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": "new-refresh-token",
        "scope": "marketplace offline_access",
    }
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


def json_response(status: int, payload: Mapping[str, Any]) -> httpx.Response:
    return httpx.Response(status, json=dict(payload))


def form_of(request: httpx.Request) -> dict[str, str]:
    """The urlencoded form body of a captured request (one value per key)."""
    pairs = httpx.QueryParams(request.content.decode())
    return dict(pairs.items())
