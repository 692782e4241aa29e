"""A protected resource imitating ``marketplace-api``'s listings (v1 and v2).

It exists so clients can prove their access tokens work end to end: it checks the JWT the way a
resource server would (our signature, ``iss``, ``exp``/``nbf`` against the sandbox clock, scope
``marketplace``) and answers in Central Dispatch's collection shape.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cdconnect.sandbox.routes.common import issuer_of
from cdconnect.sandbox.state import SandboxState

REQUIRED_SCOPE = "marketplace"
TOTAL_LISTINGS = 60
DEFAULT_PAGE, MAX_PAGE = 25, 500
_LIMIT = re.compile(r"limit\((\d+),(\d+)\)")
_CITIES = (("Dallas", "TX", "75201"), ("Atlanta", "GA", "30303"), ("Denver", "CO", "80202"))


def _media_type(version: int) -> str:
    return f"application/vnd.coxauto.v{version}+json"


def _cd_error(status: int, code: str, description: str, **headers: str) -> JSONResponse:
    body = {"errors": [{"code": code, "description": description}]}
    return JSONResponse(body, status_code=status, headers=headers)


def _bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    challenge = 'Bearer realm="marketplace-api"'
    if error is not None:
        challenge += f', error="{error}"'
    if description is not None:
        challenge += f', error_description="{description}"'
    return challenge


def authorized_claims(state: SandboxState, request: Request) -> dict[str, Any] | JSONResponse:
    """The claims of a valid bearer token, or the 401 answer for a missing or bad one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("a bearer token is required", _bearer_challenge())
    claims = state.signing_key.verified_claims(token.strip())
    problem = _claims_problem(state, request, claims)
    if claims is None or problem is not None:
        description = problem or "the access token is invalid"
        return _unauthorized(description, _bearer_challenge("invalid_token", description))
    return claims


def _unauthorized(description: str, challenge: str) -> JSONResponse:
    return _cd_error(401, "UNAUTHORIZED", description, **{"WWW-Authenticate": challenge})


def _claims_problem(
    state: SandboxState, request: Request, claims: dict[str, Any] | None
) -> str | None:
    if claims is None:
        return "the access token signature is invalid"
    if claims.get("iss") != issuer_of(state, request):
        return "the access token has the wrong issuer"
    now = state.now()
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(exp, int) or now >= exp:
        return "the access token expired"
    if not isinstance(nbf, int) or now < nbf:
        return "the access token is not valid yet"
    return None


def _has_scope(claims: dict[str, Any]) -> bool:
    scope = claims.get("scope", [])
    scopes = scope.split() if isinstance(scope, str) else list(scope)
    return REQUIRED_SCOPE in scopes


def _accepts(request: Request, media_type: str) -> bool:
    accept = request.headers.get("accept")
    if accept is None:
        return True
    offered = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return bool(offered & {media_type, "application/json", "application/*", "*/*"})


def _page(request: Request) -> tuple[int, int] | None:
    match = _LIMIT.search(request.url.query)
    if match is None:
        return 1, DEFAULT_PAGE
    start, count = int(match.group(1)), int(match.group(2))
    if start < 1 or not 1 <= count <= MAX_PAGE:
        return None
    return start, count


def _listing(number: int, version: int) -> dict[str, Any]:
    origin = _CITIES[number % len(_CITIES)]
    destination = _CITIES[(number + 1) % len(_CITIES)]
    listing: dict[str, Any] = {
        "id": f"sandbox-listing-{number:04d}",
        "status": "ACTIVE",
        "trailerType": "OPEN" if number % 2 else "ENCLOSED",
        "vehicleCount": 1 + number % 3,
        "price": {"total": 450 + 25 * number, "currency": "USD"},
        "origin": {"city": origin[0], "state": origin[1], "postalCode": origin[2]},
        "destination": {
            "city": destination[0],
            "state": destination[1],
            "postalCode": destination[2],
        },
    }
    if version >= 2:
        listing["marketplaceId"] = 10000
    return listing


def _collection(request: Request, version: int, start: int, count: int) -> dict[str, Any]:
    base = str(request.url.replace(query=""))
    end = min(start + count - 1, TOTAL_LISTINGS)
    items = [_listing(n, version) for n in range(start, end + 1)]
    body: dict[str, Any] = {
        "href": f"{base}?limit({start},{count})",
        "count": TOTAL_LISTINGS,
        "items": items,
        "first": f"{base}?limit(1,{count})",
    }
    if start > 1:
        body["previous"] = f"{base}?limit({max(1, start - count)},{count})"
    if end < TOTAL_LISTINGS:
        body["next"] = f"{base}?limit({end + 1},{count})"
    return body


def resource_router(state: SandboxState) -> APIRouter:
    router = APIRouter()

    async def listings(request: Request, version: int) -> JSONResponse:
        claims = authorized_claims(state, request)
        if isinstance(claims, JSONResponse):
            return claims
        if not _has_scope(claims):
            challenge = _bearer_challenge("insufficient_scope") + f', scope="{REQUIRED_SCOPE}"'
            headers = {"WWW-Authenticate": challenge}
            return _cd_error(403, "FORBIDDEN", "scope marketplace is required", **headers)
        media_type = _media_type(version)
        if not _accepts(request, media_type):
            return _cd_error(406, "NOT_ACCEPTABLE", f"this resource is served as {media_type}")
        page = _page(request)
        if page is None:
            description = "use ?limit(start,count) with start >= 1 and count 1..500"
            return _cd_error(400, "INVALID_LIMIT", description)
        body = _collection(request, version, *page)
        return JSONResponse(body, media_type=media_type)

    @router.get("/marketplace/v1/listings")
    async def listings_v1(request: Request) -> JSONResponse:
        return await listings(request, 1)

    @router.get("/marketplace/v2/listings")
    async def listings_v2(request: Request) -> JSONResponse:
        return await listings(request, 2)

    return router
