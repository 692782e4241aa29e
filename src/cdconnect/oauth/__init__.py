"""Central Dispatch's OAuth protocol: pure request builders and response parsers (sans-I/O), plus
thin sync/async httpx senders. Nothing here touches a database or a lock.

See ``docs/protocol.md`` for the API and the error classification table.
"""

from cdconnect.oauth.authorize import (
    build_authorization_request,
    code_challenge_s256,
    new_code_verifier,
    new_state,
)
from cdconnect.oauth.callback import CallbackErrorParams, parse_callback, validate_callback
from cdconnect.oauth.claims import read_claims
from cdconnect.oauth.client import AsyncTokenClient, TokenClient
from cdconnect.oauth.credentials import ClientCredentials, Endpoints
from cdconnect.oauth.flow import classify_transport_error
from cdconnect.oauth.json_body import MAX_RESPONSE_BYTES
from cdconnect.oauth.token_requests import (
    TokenRequest,
    authorization_code_request,
    client_credentials_request,
    refresh_token_request,
    revoke_request,
)
from cdconnect.oauth.token_responses import (
    MAX_EXPIRES_IN,
    OAuthErrorBody,
    parse_error_body,
    parse_revocation_response,
    parse_token_response,
)
from cdconnect.oauth.transport import (
    build_async_http_client,
    build_http_client,
    ssl_context,
)
from cdconnect.oauth.urls import require_https, require_redirect_uri

__all__ = [
    "MAX_EXPIRES_IN",
    "MAX_RESPONSE_BYTES",
    "AsyncTokenClient",
    "CallbackErrorParams",
    "ClientCredentials",
    "Endpoints",
    "OAuthErrorBody",
    "TokenClient",
    "TokenRequest",
    "authorization_code_request",
    "build_async_http_client",
    "build_authorization_request",
    "build_http_client",
    "classify_transport_error",
    "client_credentials_request",
    "code_challenge_s256",
    "new_code_verifier",
    "new_state",
    "parse_callback",
    "parse_error_body",
    "parse_revocation_response",
    "parse_token_response",
    "read_claims",
    "refresh_token_request",
    "require_https",
    "require_redirect_uri",
    "revoke_request",
    "ssl_context",
    "validate_callback",
]
