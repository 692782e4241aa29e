"""Reading an access token's JWT claims as optional, unverified metadata."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import jwt
from pydantic import SecretStr

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def read_claims(access_token: SecretStr) -> Mapping[str, Any]:
    """The token's JWT payload, unverified; an empty mapping when it is not a JWT.

    CD documents neither its JWKS nor its claim names, so claims are display metadata only and
    never identify a connection. The signature is not checked because nothing here trusts them.
    """
    try:
        payload = jwt.decode(
            access_token.get_secret_value(),
            options={"verify_signature": False},
        )
    except Exception:
        # PyJWT raises its own errors for most garbage, but odd inputs (e.g. JSON numbers out
        # of range in the payload) surface as plain ValueError/TypeError; metadata must not fail.
        return _EMPTY
    if not isinstance(payload, dict):
        return _EMPTY
    return MappingProxyType(payload)
