"""The sandbox's RS256 signing key: access-token JWTs and the JWKS that publishes the key."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ALGORITHM = "RS256"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An RSA key pair with its key id (``kid``)."""

    private_key: rsa.RSAPrivateKey
    kid: str

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh 2048-bit key; the kid is derived from the public key like IdentityServer's."""
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kid = hashlib.sha256(public_der).hexdigest()[:32].upper()
        return cls(private_key=private_key, kid=kid)

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS of ``claims`` with ``typ: at+jwt`` (RFC 9068) and this key's ``kid``."""
        headers = {"kid": self.kid, "typ": "at+jwt"}
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers=headers)

    def verified_claims(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` if its signature is ours, else ``None``.

        Time-based claims are not checked here: the caller checks them against the sandbox's
        own (offset) clock, which PyJWT cannot be given.
        """
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.kid:
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                self.private_key.public_key(),
                algorithms=[ALGORITHM],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidTokenError:
            return None
        return claims

    def jwks(self) -> dict[str, Any]:
        """The public key as a JSON Web Key Set."""
        numbers = self.private_key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": ALGORITHM,
                    "kid": self.kid,
                    "n": _b64url_uint(numbers.n),
                    "e": _b64url_uint(numbers.e),
                }
            ]
        }


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
