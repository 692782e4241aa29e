"""The test-control API under ``/_sandbox`` (JSON, unauthenticated: the sandbox is a test tool).

Mounted only when ``SandboxConfig.control_api_enabled`` is true. See docs/sandbox.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from cdconnect.sandbox.hostile import HostileKind
from cdconnect.sandbox.state import SandboxState

PREFIX = "/_sandbox"
#: Switches for which ``null`` is a value (off / the kind's default), not a mistake.
_NULLABLE = frozenset({"granted_scope", "hostile", "hostile_commit"})


class FaultsUpdate(BaseModel):
    """A partial update of the fault switches: only the fields present are changed."""

    model_config = ConfigDict(extra="forbid")

    latency: float | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    error_with_body: bool | None = None
    drop_after_commit: int | None = Field(default=None, ge=0)
    hang_after_commit: int | None = Field(default=None, ge=0)
    #: ``null`` switches the override off.
    granted_scope: str | None = None
    #: ``null`` switches hostile answers off.
    hostile: HostileKind | None = None
    hostile_count: int | None = Field(default=None, ge=0)
    #: ``null`` follows the kind's default.
    hostile_commit: bool | None = None

    def changes(self) -> dict[str, Any]:
        changes = {name: getattr(self, name) for name in self.model_fields_set}
        if changes.get("hostile") is not None:
            changes["hostile"] = str(changes["hostile"])  # stored as plain text, like the JSON
        nulls = sorted(n for n, v in changes.items() if v is None and n not in _NULLABLE)
        if nulls:
            raise HTTPException(422, f"these switches cannot be null: {', '.join(nulls)}")
        return changes


class AccountRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str


class ClockOffset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    offset: float


class RedirectUri(BaseModel):
    model_config = ConfigDict(extra="forbid")
    redirect_uri: str = Field(min_length=1)


def control_router(state: SandboxState) -> APIRouter:
    router = APIRouter(prefix=PREFIX)
    _add_counter_routes(router, state)
    _add_fault_routes(router, state)
    _add_grant_routes(router, state)
    _add_misc_routes(router, state)
    return router


def _add_counter_routes(router: APIRouter, state: SandboxState) -> None:
    @router.get("/counters")
    async def counters() -> dict[str, Any]:
        with state.lock:
            return state.counters.as_json()

    @router.post("/counters/reset")
    async def reset_counters() -> dict[str, Any]:
        state.reset_counters()
        with state.lock:
            return state.counters.as_json()


def _add_fault_routes(router: APIRouter, state: SandboxState) -> None:
    @router.get("/faults")
    async def faults() -> dict[str, Any]:
        with state.lock:
            return state.faults.as_json()

    @router.post("/faults")
    async def set_faults(update: FaultsUpdate) -> dict[str, Any]:
        try:
            return state.update_faults(update.changes()).as_json()
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc

    @router.post("/hangs/release")
    async def release_hangs() -> dict[str, Any]:
        state.release_hangs()
        return {"released": True}


def _add_grant_routes(router: APIRouter, state: SandboxState) -> None:
    @router.get("/grants")
    async def grants() -> list[dict[str, Any]]:
        return state.grants_json()

    @router.post("/grants/{grant_id}/revoke")
    async def revoke_grant(grant_id: str) -> dict[str, Any]:
        with state.lock:
            if grant_id not in state.grants:
                raise HTTPException(404, "no such grant")
            revoked = state.revoke_grant(grant_id, "revoked_by_sandbox")
        return {"revoked": revoked}

    @router.post("/accounts/revoke")
    async def revoke_account(account: AccountRef) -> dict[str, Any]:
        if state.config.account(account.email) is None:
            raise HTTPException(404, "no such account")
        return {"revoked_grants": state.revoke_account(account.email)}


def _add_misc_routes(router: APIRouter, state: SandboxState) -> None:
    @router.get("/clock")
    async def clock() -> dict[str, Any]:
        return {"offset": state.clock_offset, "now": state.now()}

    @router.post("/clock")
    async def set_clock(offset: ClockOffset) -> dict[str, Any]:
        state.set_clock_offset(offset.offset)
        return {"offset": state.clock_offset, "now": state.now()}

    @router.post("/clients/{client_id}/redirect-uris")
    async def add_redirect_uri(client_id: str, body: RedirectUri) -> dict[str, Any]:
        client = state.client(client_id)
        if client is None:
            raise HTTPException(404, "no such client")
        state.add_redirect_uri(client_id, body.redirect_uri)
        return {"client_id": client_id, "redirect_uris": state.redirect_uris(client)}

    @router.post("/reset")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}
