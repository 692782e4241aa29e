"""Client credentials and the identity server's endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from cdconnect.oauth.urls import require_https


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """An OAuth client id and secret, sent in the form body (``client_secret_post``)."""

    client_id: str
    client_secret: SecretStr

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self.client_id!r})"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the identity server lives. Every URL is checked to be ``https://``."""

    issuer: str
    authorize: str
    token: str
    #: RFC 7009 revocation; CD does not document one, so it is off unless configured.
    revocation: str | None = None

    def __post_init__(self) -> None:
        require_https(self.issuer, name="issuer")
        require_https(self.authorize, name="authorize endpoint")
        require_https(self.token, name="token endpoint")
        if self.revocation is not None:
            require_https(self.revocation, name="revocation endpoint")

    @classmethod
    def for_issuer(cls, issuer: str, *, revocation: str | None = None) -> Endpoints:
        """The IdentityServer layout: ``{issuer}/connect/authorize`` and ``/connect/token``."""
        base = issuer.rstrip("/")
        return cls(
            issuer=base,
            authorize=f"{base}/connect/authorize",
            token=f"{base}/connect/token",
            revocation=revocation,
        )
