"""A net for secrets: every secret value the flows handled, by kind, and the shapes of tokens.

Values are collected where they really travel (token-endpoint traffic, settings, the browser's
URLs); on top of them, anything shaped like a JWT (every access token the sandbox issues is one)
and any ``<64 hex>-1`` string whose SHA-256 digest the sandbox stored (every code and refresh
token it ever issued, consumed or not, including ones only ever sent inside garbage) counts as a
leak. A finding names the kind of secret, never the secret.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from tests.adversarial.helpers import JWT_SHAPE, OPAQUE_SHAPE

#: Too short to be a credential and too likely to occur by chance (e.g. "client_id" values).
MIN_SECRET_LENGTH = 8

#: Form fields of token-endpoint requests that carry secrets.
FORM_SECRETS = {
    "client_secret": "client secret",
    "code": "authorization code",
    "code_verifier": "PKCE verifier",
    "refresh_token": "refresh token",
    "token": "refresh token",
}
#: Fields of token-endpoint responses that carry secrets.
RESPONSE_SECRETS = {"access_token": "access token", "refresh_token": "refresh token"}


@dataclass
class SecretNet:
    """Known secrets by kind; ``issued_digests`` returns the sandbox's current digests."""

    issued_digests: Callable[[], Collection[str]]
    known: dict[str, set[str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"SecretNet(kinds={sorted(self.known)!r})"

    def add(self, kind: str, value: str | None) -> None:
        if value and len(value) >= MIN_SECRET_LENGTH:
            self.known.setdefault(kind, set()).add(value)

    def count(self, kind: str) -> int:
        return len(self.known.get(kind, ()))

    def add_token_request(self, form: bytes) -> None:
        for name, value in parse_qsl(form.decode("utf-8", "replace")):
            if name in FORM_SECRETS:
                self.add(FORM_SECRETS[name], value)

    def add_token_response(self, body: bytes) -> None:
        try:
            decoded = json.loads(body)
        except ValueError:
            return  # garbage: the shape nets still catch what it carried
        if isinstance(decoded, dict):
            for name, kind in RESPONSE_SECRETS.items():
                value = decoded.get(name)
                if isinstance(value, str):
                    self.add(kind, value)

    def leaks(self, text: str) -> list[str]:
        """The kinds of secret found in ``text`` (each kind once)."""
        found = [kind for kind, values in self.known.items() if any(v in text for v in values)]
        if JWT_SHAPE.search(text):
            found.append("an access token (JWT shape)")
        digests = self.issued_digests()
        if any(_sha256(m.group(0)) in digests for m in OPAQUE_SHAPE.finditer(text)):
            found.append("a code or refresh token the sandbox issued")
        return found


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
