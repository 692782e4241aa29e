"""Token and revocation requests as frozen values (client_secret_post, form-encoded)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import urlencode

from pydantic import SecretStr

from cdconnect.oauth.credentials import ClientCredentials
from cdconnect.oauth.scopes import normalize_scope
from cdconnect.oauth.urls import require_https, require_redirect_uri

#: Form fields whose values are secrets: never shown in reprs, logs or messages.
SECRET_FIELDS = frozenset({"client_secret", "code", "code_verifier", "refresh_token", "token"})
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A POST to the token (or revocation) endpoint: where, and the form body to send."""

    url: str
    form: Mapping[str, str]

    def __post_init__(self) -> None:
        require_https(self.url, name="token request URL")
        object.__setattr__(self, "form", MappingProxyType(dict(self.form)))

    @property
    def grant_type(self) -> str:
        """The grant type, or ``"revocation"`` for an RFC 7009 request (used in logs)."""
        return self.form.get("grant_type", "revocation")

    def body(self) -> bytes:
        """The urlencoded form body (reveals secrets: use it on the wire only)."""
        return urlencode(dict(self.form)).encode("ascii")

    def headers(self) -> dict[str, str]:
        return {"Content-Type": FORM_CONTENT_TYPE, "Accept": "application/json"}

    def secret_values(self) -> tuple[str, ...]:
        """The secret values this request carries, to mask them if a server echoes one back."""
        return tuple(value for name, value in self.form.items() if name in SECRET_FIELDS and value)

    def __repr__(self) -> str:
        shown = {
            name: ("***" if name in SECRET_FIELDS else value) for name, value in self.form.items()
        }
        return f"TokenRequest(url={self.url!r}, form={shown!r})"

    __str__ = __repr__


def authorization_code_request(
    endpoint: str,
    creds: ClientCredentials,
    *,
    code: SecretStr,
    redirect_uri: str,
    code_verifier: SecretStr | None,
) -> TokenRequest:
    """Exchange an authorization code; ``redirect_uri`` must be the one sent in step 1."""
    require_redirect_uri(redirect_uri)
    form = {
        **_client_fields(creds),
        "grant_type": "authorization_code",
        "code": code.get_secret_value(),
        "redirect_uri": redirect_uri,
    }
    if code_verifier is not None:
        form["code_verifier"] = code_verifier.get_secret_value()
    return TokenRequest(require_https(endpoint, name="token endpoint"), form)


def refresh_token_request(
    endpoint: str, creds: ClientCredentials, *, refresh_token: SecretStr
) -> TokenRequest:
    """Rotate a (single-use) refresh token."""
    form = {
        **_client_fields(creds),
        "grant_type": "refresh_token",
        "refresh_token": refresh_token.get_secret_value(),
    }
    return TokenRequest(require_https(endpoint, name="token endpoint"), form)


def client_credentials_request(
    endpoint: str, creds: ClientCredentials, *, scope: Sequence[str] | None = None
) -> TokenRequest:
    """A token for the integrator itself (no refresh token comes back)."""
    form = {**_client_fields(creds), "grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = " ".join(normalize_scope(scope))
    return TokenRequest(require_https(endpoint, name="token endpoint"), form)


def revoke_request(
    endpoint: str,
    creds: ClientCredentials,
    *,
    token: SecretStr,
    token_type_hint: str | None = "refresh_token",  # noqa: S107 - a hint, not a secret
) -> TokenRequest:
    """An RFC 7009 revocation request (only used when a revocation URL is configured)."""
    form = {**_client_fields(creds), "token": token.get_secret_value()}
    if token_type_hint is not None:
        form["token_type_hint"] = token_type_hint
    return TokenRequest(require_https(endpoint, name="revocation endpoint"), form)


def _client_fields(creds: ClientCredentials) -> dict[str, str]:
    return {"client_id": creds.client_id, "client_secret": creds.client_secret.get_secret_value()}
