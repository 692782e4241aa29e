"""The sandbox's ASGI application factory."""

from __future__ import annotations

import time

from fastapi import FastAPI

from cdconnect.sandbox.config import SandboxConfig, default_config
from cdconnect.sandbox.routes.authorize import authorize_router
from cdconnect.sandbox.routes.control import control_router
from cdconnect.sandbox.routes.discovery import discovery_router
from cdconnect.sandbox.routes.resource import resource_router
from cdconnect.sandbox.routes.token import token_router
from cdconnect.sandbox.signing import SigningKey
from cdconnect.sandbox.state import Clock, SandboxState


def create_sandbox_app(
    config: SandboxConfig | None = None,
    *,
    clock: Clock = time.time,
    signing_key: SigningKey | None = None,
) -> FastAPI:
    """A fresh sandbox with its own state, reachable as ``app.state.sandbox``.

    ``signing_key`` lets tests that build many apps share one RSA key (generating one takes a
    noticeable fraction of a second).
    """
    state = SandboxState(config or default_config(), clock=clock, signing_key=signing_key)
    # No OpenAPI pages: the real identity server has none, and /docs would shadow nothing useful.
    app = FastAPI(title="Central Dispatch sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sandbox = state
    app.include_router(discovery_router(state))
    app.include_router(authorize_router(state))
    app.include_router(token_router(state))
    app.include_router(resource_router(state))
    if state.config.control_api_enabled:
        app.include_router(control_router(state))
    return app


def sandbox_state(app: FastAPI) -> SandboxState:
    """The state behind an app made by ``create_sandbox_app``."""
    state = getattr(app.state, "sandbox", None)
    if not isinstance(state, SandboxState):
        raise TypeError("not a sandbox app")
    return state
