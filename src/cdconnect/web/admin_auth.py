"""Bearer-key authentication of the admin / token-broker API.

Keys come from ``CDCONNECT_ADMIN_TOKENS`` (comma-separated, so keys can be rotated: add the new
one, move callers, remove the old one). The presented key is compared in constant time against
*every* configured key: neither the length nor the position of a near-miss leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from fastapi import HTTPException, Request
from fastapi.security import HTTPBearer
from pydantic import SecretStr

#: Declared for the OpenAPI document only; the checks below read the header themselves so that
#: missing, malformed and wrong keys get distinct, stable answers.
bearer_scheme = HTTPBearer(auto_error=False, description="An admin key from CDCONNECT_ADMIN_TOKENS")

#: Longest Authorization header we look at; anything longer is malformed, not compared.
MAX_HEADER_LENGTH = 4096


def _digest(value: str) -> bytes:
    # Hashing first makes every comparison the same length, whatever the key lengths are.
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


class AdminKeys:
    """The accepted admin keys, kept as SHA-256 digests (never printed)."""

    def __init__(self, keys: Sequence[SecretStr]) -> None:
        self._digests = tuple(_digest(key.get_secret_value()) for key in keys)

    def __repr__(self) -> str:
        return f"AdminKeys(count={len(self._digests)})"

    @property
    def configured(self) -> bool:
        return bool(self._digests)

    def accepts(self, presented: str) -> bool:
        candidate = _digest(presented)
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(candidate, digest)
        return matched


def presented_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header; None if missing or malformed."""
    if not authorization or len(authorization) > MAX_HEADER_LENGTH:
        return None
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key or not key.isprintable() or " " in key:
        return None
    return key


def _error(status: int, code: str, message: str, challenge: str) -> HTTPException:
    detail = {"code": code, "message": message}
    return HTTPException(status, detail=detail, headers={"WWW-Authenticate": challenge})


def check_admin(request: Request, keys: AdminKeys) -> None:
    """Raise the 401/403 answer unless the request carries a valid admin key."""
    headers = request.headers.getlist("authorization")
    # Several Authorization headers are ambiguous (proxies and frameworks disagree about which
    # one counts): refuse them as malformed rather than pick one.
    key = presented_key(headers[0]) if len(headers) == 1 else None
    if key is None:
        raise _error(
            401,
            "unauthorized",
            "an admin key is required: send 'Authorization: Bearer <key>'",
            'Bearer realm="cdconnect"',
        )
    if not keys.configured:
        raise _error(
            403,
            "admin_api_disabled",
            "the admin API is disabled: no CDCONNECT_ADMIN_TOKENS are configured",
            'Bearer realm="cdconnect", error="invalid_token"',
        )
    if not keys.accepts(key):
        raise _error(
            403,
            "forbidden",
            "the admin key is not valid",
            'Bearer realm="cdconnect", error="invalid_token"',
        )
