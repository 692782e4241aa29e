"""Opaque one-time values (authorization codes, refresh tokens) and the PKCE transform.

The server keeps only SHA-256 digests of codes and refresh tokens, so a dump of the sandbox's
state never contains a usable credential.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

# RFC 7636 §4.1: 43 to 128 characters from the unreserved set.
_PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def new_authorization_code() -> str:
    """64 hex characters plus ``-1``, the shape Central Dispatch's codes have."""
    return secrets.token_hex(32).upper() + "-1"


def new_refresh_token() -> str:
    """An opaque refresh token in IdentityServer's shape (64 hex characters plus ``-1``)."""
    return secrets.token_hex(32).upper() + "-1"


def new_id() -> str:
    """A random identifier for grants and token ids (not a secret)."""
    return secrets.token_hex(16)


def digest(value: str) -> str:
    """The SHA-256 hex digest under which a code or refresh token is stored."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def is_pkce_value(value: str) -> bool:
    """Whether ``value`` is a well-formed PKCE verifier or S256 challenge."""
    return _PKCE_VALUE.fullmatch(value) is not None


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(verifier))`` without padding (RFC 7636 §4.2)."""
    hashed = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(hashed).rstrip(b"=").decode("ascii")


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets."""
    return secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
