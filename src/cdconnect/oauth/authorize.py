"""Building the authorization URL (step 1 of the authorization-code flow).

CD's documented parameters are sent exactly, plus ``state`` (always) and PKCE S256 (by default).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from urllib.parse import quote, urlencode

from pydantic import SecretStr

from cdconnect.models import AuthorizationRequest
from cdconnect.oauth.scopes import normalize_scope
from cdconnect.oauth.urls import require_https, require_redirect_uri

#: 32 random bytes give a 43-character verifier, the RFC 7636 §4.1 minimum and recommendation.
_VERIFIER_BYTES = 32
_STATE_BYTES = 32


def new_state() -> SecretStr:
    """A fresh CSPRNG ``state`` value (256 bits, URL-safe)."""
    return SecretStr(secrets.token_urlsafe(_STATE_BYTES))


def new_code_verifier() -> SecretStr:
    """A fresh PKCE code verifier: 43 characters from the unreserved set (RFC 7636 §4.1)."""
    return SecretStr(secrets.token_urlsafe(_VERIFIER_BYTES))


def code_challenge_s256(verifier: SecretStr) -> str:
    """``BASE64URL(SHA256(verifier))`` without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.get_secret_value().encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def build_authorization_request(
    *,
    authorize_endpoint: str,
    client_id: str,
    redirect_uri: str,
    scope: Sequence[str],
    pkce: bool = True,
    state: SecretStr | None = None,
) -> AuthorizationRequest:
    """The URL to send the user's browser to, with the values the callback must be checked against.

    Raises :class:`~cdconnect.errors.InsecureEndpointError` for a non-https endpoint or redirect
    URI and :class:`~cdconnect.errors.ConfigurationError` for an empty or invalid scope.
    """
    require_https(authorize_endpoint, name="authorize endpoint")
    require_redirect_uri(redirect_uri)
    scopes = normalize_scope(scope)
    state = state if state is not None else new_state()
    verifier = new_code_verifier() if pkce else None
    params = {
        "client_id": client_id,
        # Not standard on this endpoint, but CD lists it as required.
        "grant_type": "authorization_code",
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state.get_secret_value(),
    }
    if verifier is not None:
        params["code_challenge"] = code_challenge_s256(verifier)
        params["code_challenge_method"] = "S256"
    separator = "&" if "?" in authorize_endpoint else "?"
    # quote (not quote_plus) so spaces in the scope travel as %20, which every server reads alike.
    url = authorize_endpoint + separator + urlencode(params, quote_via=quote)
    return AuthorizationRequest(
        url=url,
        state=state,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
        scope=scopes,
    )
