"""The claims of the sandbox's access tokens and the token endpoint's success body."""

from __future__ import annotations

from typing import Any

from cdconnect.sandbox.opaque import new_id
from cdconnect.sandbox.records import Issuance
from cdconnect.sandbox.signing import SigningKey


def access_token_claims(issuance: Issuance, *, issuer: str, ttl: int) -> dict[str, Any]:
    """IdentityServer-style claims: ``scope`` is a JSON array, ``sub``/``customer_id`` only
    for tokens that act for a user, ``sid`` names the grant (refresh chain)."""
    issued_at = int(issuance.issued_at)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": f"{issuer}/resources",
        "nbf": issued_at,
        "iat": issued_at,
        "exp": issued_at + ttl,
        "client_id": issuance.client_id,
        "scope": list(issuance.scope),
        "jti": new_id(),
    }
    if issuance.account is not None:
        claims["sub"] = issuance.account.subject
        claims["customer_id"] = issuance.account.customer_id
        claims["idp"] = "local"
    if issuance.grant_id is not None:
        claims["sid"] = issuance.grant_id
    return claims


def token_response_body(
    issuance: Issuance, *, key: SigningKey, issuer: str, ttl: int
) -> dict[str, Any]:
    """The JSON of a successful token response, shaped like Central Dispatch's."""
    body: dict[str, Any] = {
        "access_token": key.sign(access_token_claims(issuance, issuer=issuer, ttl=ttl)),
        "expires_in": ttl,
        "token_type": "Bearer",
    }
    if issuance.refresh_token is not None:
        body["refresh_token"] = issuance.refresh_token
    body["scope"] = " ".join(issuance.scope)
    return body
