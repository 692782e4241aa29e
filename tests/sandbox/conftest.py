"""Fixtures of the sandbox's own tests: in-process apps on a fake clock."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from cdconnect.sandbox import SandboxConfig, SandboxState, SigningKey, create_sandbox_app
from cdconnect.sandbox.app import sandbox_state
from cdconnect.sandbox.config import default_config
from cdconnect.sandbox.inprocess import in_process_client
from tests.fixtures.sandbox import SANDBOX_TEST_REDIRECT_URIS
from tests.sandbox.helpers import IN_PROCESS_BASE, AppFactory, ClientOpener, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config() -> SandboxConfig:
    return default_config().with_redirect_uris(*SANDBOX_TEST_REDIRECT_URIS)


@pytest.fixture
def make_app(
    clock: FakeClock, config: SandboxConfig, sandbox_signing_key: SigningKey
) -> AppFactory:
    """Build a fresh app on the fake clock; keyword arguments change the test config."""

    def make(**changes: object) -> FastAPI:
        return create_sandbox_app(
            dataclasses.replace(config, **changes),  # type: ignore[arg-type]
            clock=clock,
            signing_key=sandbox_signing_key,
        )

    return make


@pytest.fixture
def open_client() -> Iterator[ClientOpener]:
    """Open in-process clients (closed after the test); redirects are not followed."""
    clients: list[httpx.Client] = []

    def open_(app: FastAPI) -> httpx.Client:
        client = in_process_client(app, IN_PROCESS_BASE)
        clients.append(client)
        return client

    yield open_
    for client in clients:
        client.close()


@pytest.fixture
def app(make_app: AppFactory) -> FastAPI:
    return make_app()


@pytest.fixture
def client(app: FastAPI, open_client: ClientOpener) -> httpx.Client:
    return open_client(app)


@pytest.fixture
def state(app: FastAPI) -> SandboxState:
    return sandbox_state(app)
