"""The shared token file the compared libraries use, and raw OAuth calls made outside them.

The initial login and the "is it still usable?" probe are done with plain httpx here, so that no
library under comparison (cdconnect included) grades its own homework.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from cdconnect.sandbox import BROKER_EMAIL, TEST_PASSWORD, SandboxServer, login

SCOPE = "marketplace offline_access"
LISTINGS = "/marketplace/v2/listings"
LISTINGS_HEADERS = {"Accept": "application/vnd.coxauto.v2+json"}
#: How far in the past the stored expiry is put, so every library sees an expired token.
EXPIRED_BY = 300


def write_token(path: Path, token: dict[str, Any]) -> None:
    """Replace the file atomically: a torn JSON file must not be blamed on a library."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    temporary.write_text(json.dumps(token), encoding="utf-8")
    os.replace(temporary, path)


def read_token(path: Path) -> dict[str, Any]:
    token: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return token


def expired(token: dict[str, Any]) -> dict[str, Any]:
    """The token with ``expires_at`` in the past, as an integer (Authlib ignores floats)."""
    return {**token, "expires_at": int(time.time()) - EXPIRED_BY}


def login_and_exchange(sandbox: SandboxServer) -> dict[str, Any]:
    """A fresh grant for the broker account: authorize, sign in, exchange the code."""
    env = sandbox.env()
    redirect_uri = env["CDCONNECT_REDIRECT_URI"]
    query = urlencode(
        {
            "client_id": env["CDCONNECT_CLIENT_ID"],
            "grant_type": "authorization_code",
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "scope": SCOPE,
            "state": secrets.token_urlsafe(16),
        }
    )
    with httpx.Client(verify=sandbox.client_ssl_context()) as http:
        callback = login(
            http, f"{sandbox.issuer}/connect/authorize?{query}", BROKER_EMAIL, TEST_PASSWORD
        )
        code = parse_qs(urlsplit(callback).query)["code"][0]
        response = http.post(
            f"{sandbox.issuer}/connect/token",
            data={
                "client_id": env["CDCONNECT_CLIENT_ID"],
                "client_secret": env["CDCONNECT_CLIENT_SECRET"],
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
            },
        )
    response.raise_for_status()
    token: dict[str, Any] = response.json()
    return token


def probe_refresh(sandbox: SandboxServer, refresh_token: str | None) -> str:
    """Spend ``refresh_token`` once: "ok", or the OAuth error the sandbox answers."""
    if not refresh_token:
        return "no_refresh_token"
    env = sandbox.env()
    with httpx.Client(verify=sandbox.client_ssl_context()) as http:
        response = http.post(
            f"{sandbox.issuer}/connect/token",
            data={
                "client_id": env["CDCONNECT_CLIENT_ID"],
                "client_secret": env["CDCONNECT_CLIENT_SECRET"],
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
            },
        )
    if response.status_code == httpx.codes.OK:
        return "ok"
    return str(response.json().get("error", f"http_{response.status_code}"))
