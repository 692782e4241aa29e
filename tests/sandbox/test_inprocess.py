"""In-process transports (no network)."""

from __future__ import annotations

import anyio
import httpx
import pytest
from fastapi import FastAPI

from cdconnect.sandbox import SandboxASGITransport, sandbox_state
from tests.sandbox.helpers import IN_PROCESS_BASE, connect, refresh


def test_the_async_transport_reports_a_drop_as_remote_protocol_error(
    app: FastAPI, client: httpx.Client
) -> None:
    body = connect(client, IN_PROCESS_BASE)
    sandbox_state(app).update_faults({"drop_after_commit": 1})
    form = {
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
        "client_id": "cdconnect-demo",
        "client_secret": "sandbox-demo-secret-0123456789abcdef",
    }

    async def attempt() -> type[BaseException] | None:
        transport = SandboxASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=IN_PROCESS_BASE) as http:
            try:
                await http.post("/connect/token", data=form)
            except httpx.RemoteProtocolError as exc:
                return type(exc)
        return None

    assert anyio.run(attempt) is httpx.RemoteProtocolError
    assert refresh(client, body["refresh_token"]).json()["error"] == "invalid_grant"


def test_sandbox_state_refuses_other_apps() -> None:
    with pytest.raises(TypeError):
        sandbox_state(FastAPI())


def test_sandbox_state_of_a_plain_app_without_state() -> None:
    app = FastAPI()
    app.state.sandbox = object()

    with pytest.raises(TypeError, match="not a sandbox app"):
        sandbox_state(app)
