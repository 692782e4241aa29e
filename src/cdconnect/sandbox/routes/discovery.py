"""OpenID discovery and the JWKS, where an IdentityServer serves them.

Central Dispatch does not document these endpoints; the sandbox serves them so clients that
opt in to discovery or JWT verification can be tested.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cdconnect.sandbox.config import GRANT_TYPES
from cdconnect.sandbox.routes.common import issuer_of
from cdconnect.sandbox.signing import ALGORITHM
from cdconnect.sandbox.state import SandboxState

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/openid-configuration/jwks"


def discovery_document(state: SandboxState, issuer: str) -> dict[str, Any]:
    scopes = sorted({s for c in state.config.clients for s in c.allowed_scopes})
    return {
        "issuer": issuer,
        "jwks_uri": issuer + JWKS_PATH,
        "authorization_endpoint": issuer + "/connect/authorize",
        "token_endpoint": issuer + "/connect/token",
        "revocation_endpoint": issuer + "/connect/revocation",
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_post",
            "client_secret_basic",
        ],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "authorization_response_iss_parameter_supported": True,
    }


def discovery_router(state: SandboxState) -> APIRouter:
    router = APIRouter()

    @router.get(DISCOVERY_PATH)
    async def discovery(request: Request) -> JSONResponse:
        return JSONResponse(discovery_document(state, issuer_of(state, request)))

    @router.get(JWKS_PATH)
    async def jwks() -> JSONResponse:
        return JSONResponse(state.signing_key.jwks())

    return router
