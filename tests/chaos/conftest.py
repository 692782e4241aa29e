"""Fixtures of the chaos suite: a pool of warm worker processes and a trial environment.

``chaos_env`` is a ``TrialEnv`` on the ``database_url`` backend (SQLite and PostgreSQL) with
short timeouts, so leases of killed workers expire within seconds. ``chaos_seed`` comes from
``CDCONNECT_CHAOS_SEED`` when set (to replay a failure's plans), else at random; a failure
prints it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cdconnect.manager import open_manager
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings
from cdconnect.vault.crypto import KeyRing
from tests.chaos.plan import MAX_KILLS, WORKERS
from tests.chaos.pool import WarmPool
from tests.chaos.trial import SHORT_TIMEOUTS, TrialEnv
from tests.manager.conftest import settings_for

SEED_ENV = "CDCONNECT_CHAOS_SEED"


def chaos_settings(sandbox: SandboxServer, database_url: str, data_dir: Path) -> Settings:
    return settings_for(
        sandbox, database_url, data_dir, KeyRing.generate().export(), **SHORT_TIMEOUTS
    )


@pytest.fixture(scope="session")
def chaos_pool() -> Iterator[WarmPool]:
    # Spares for the killed: their replacements warm up during the next trial, not before it.
    pool = WarmPool(WORKERS + MAX_KILLS)
    yield pool
    pool.close()
    assert not pool.unexpected_exits, f"workers exited badly: {pool.unexpected_exits}"


@pytest.fixture
def chaos_seed() -> int:
    return int(os.environ.get(SEED_ENV) or random.randrange(2**32))


@pytest.fixture
def chaos_env(
    sandbox: SandboxServer, database_url: str, tmp_path: Path, chaos_pool: WarmPool
) -> Iterator[TrialEnv]:
    settings = chaos_settings(sandbox, database_url, tmp_path / "data")
    logs = tmp_path / "logs"
    logs.mkdir()
    with (
        open_manager(settings) as host,
        httpx.Client(verify=sandbox.client_ssl_context(), timeout=10) as http,
    ):
        yield TrialEnv(sandbox, settings, host, chaos_pool, logs, http)
