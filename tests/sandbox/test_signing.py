"""The signing key: JWTs, JWKS, verification."""

from __future__ import annotations

import jwt
import pytest

from cdconnect.sandbox import SigningKey


def test_signed_tokens_verify_with_the_same_key_only(sandbox_signing_key: SigningKey) -> None:
    token = sandbox_signing_key.sign({"sub": "x", "exp": 1})

    assert sandbox_signing_key.verified_claims(token) == {"sub": "x", "exp": 1}
    assert SigningKey.generate().verified_claims(token) is None


@pytest.mark.parametrize("token", ["", "a.b.c", "not a token"])
def test_garbage_does_not_verify(sandbox_signing_key: SigningKey, token: str) -> None:
    assert sandbox_signing_key.verified_claims(token) is None


def test_other_algorithms_are_refused(sandbox_signing_key: SigningKey) -> None:
    forged = jwt.encode(
        {"sub": "x"},
        "secret-key-that-is-long-enough-for-hs256",
        algorithm="HS256",
        headers={"kid": sandbox_signing_key.kid},
    )

    assert sandbox_signing_key.verified_claims(forged) is None


def test_jwks_publishes_the_public_key(sandbox_signing_key: SigningKey) -> None:
    token = sandbox_signing_key.sign({"sub": "x"})

    [jwk] = sandbox_signing_key.jwks()["keys"]

    assert jwk["kid"] == sandbox_signing_key.kid
    assert "d" not in jwk and "p" not in jwk  # nothing private
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"]) == {"sub": "x"}


def test_repr_shows_only_the_kid(sandbox_signing_key: SigningKey) -> None:
    assert repr(sandbox_signing_key) == f"SigningKey(kid={sandbox_signing_key.kid!r})"
