"""Client authentication at the token and revocation endpoints.

Both ``client_secret_post`` (Central Dispatch's documented method: ``client_id`` and
``client_secret`` in the form) and ``client_secret_basic`` (HTTP Basic, RFC 6749 §2.3.1) work.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from urllib.parse import unquote_plus

from cdconnect.sandbox.config import ClientRegistration
from cdconnect.sandbox.opaque import same_secret
from cdconnect.sandbox.records import TokenFailure
from cdconnect.sandbox.state import SandboxState

BASIC_CHALLENGE = 'Basic realm="sandbox", charset="UTF-8"'


def _invalid_client(description: str) -> TokenFailure:
    return TokenFailure("invalid_client", description, status=401)


def basic_credentials(authorization: str | None) -> tuple[str, str] | TokenFailure | None:
    """The (id, secret) pair of an ``Authorization: Basic`` header; ``None`` when there is no
    Basic header."""
    if authorization is None:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return _invalid_client("malformed Basic credentials")
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return _invalid_client("malformed Basic credentials")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate_client(
    state: SandboxState, form: Mapping[str, str], authorization: str | None
) -> ClientRegistration | TokenFailure:
    """The registered client the request authenticates as, or an ``invalid_client`` failure."""
    basic = basic_credentials(authorization)
    if isinstance(basic, TokenFailure):
        return basic
    if basic is not None:
        if "client_secret" in form:
            return TokenFailure("invalid_request", "use only one client authentication method")
        client_id, secret = basic
        if form.get("client_id", client_id) != client_id:
            return _invalid_client("client_id in the body differs from the Basic credentials")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if not client_id or not secret:
        return _invalid_client("client authentication is required")
    client = state.client(client_id)
    if client is None or not same_secret(secret, client.client_secret):
        return _invalid_client("unknown client or wrong client secret")
    return client
