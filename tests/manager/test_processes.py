"""Refresh storms and killed refreshers across real processes on one database.

Each process has its own manager, cache and HTTP pool — as separate hosts would — and they share
only the database and the sandbox. Invariants: exactly one refresh per expired generation, no
``invalid_grant`` caused by our own races, every caller gets the same new token; a process killed
while holding the lease is taken over after the lease expires, and a connection is never left
silently broken.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import pytest

from cdconnect.errors import ReauthorizationRequired
from cdconnect.manager import ConnectionManager, open_manager, open_store
from cdconnect.models import ConnectionStatus
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings, load_settings
from cdconnect.testing import OffsetClock, settings_values
from tests.manager.conftest import connect, settings_for

pytestmark = pytest.mark.slow

HOUR = 3600.0
SPAWN = multiprocessing.get_context("spawn")


def _storm_worker(
    values: dict[str, Any], offset: float, threads: int, go: EventType, out: Any
) -> None:
    with open_manager(load_settings(**values), clock=OffsetClock(offset)) as manager:
        go.wait(30)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            tokens = list(pool.map(lambda _: _token_of(manager), range(threads)))
    out.put(tokens)


def _token_of(manager: ConnectionManager) -> str:
    return manager.access_token("acme").access_token.get_secret_value()


def test_storm_over_threads_processes_and_hosts_refreshes_exactly_once(
    settings: Settings, sandbox: SandboxServer, clock: OffsetClock
) -> None:
    processes, threads_each, local_threads = 4, 12, 50
    with open_manager(settings, clock=clock) as host_a:
        connect(host_a, sandbox, "acme")
        clock.advance(HOUR)
        go = SPAWN.Event()
        out = SPAWN.Queue()
        workers = [
            SPAWN.Process(
                target=_storm_worker,
                args=(settings_values(settings), clock.offset, threads_each, go, out),
            )
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        time.sleep(0.5)  # let the workers reach the start line; correctness does not depend on it
        go.set()
        with ThreadPoolExecutor(max_workers=local_threads) as pool:
            local = list(pool.map(lambda _: _token_of(host_a), range(local_threads)))
        remote = [token for _ in workers for token in out.get(timeout=120)]
        for worker in workers:
            worker.join(30)
            assert worker.exitcode == 0
    tokens = local + remote
    assert len(tokens) == local_threads + processes * threads_each
    assert len(set(tokens)) == 1
    counters = sandbox.control.counters()
    assert counters.calls("refresh_token", "ok") == 1
    assert counters.calls("refresh_token", "invalid_grant") == 0
    assert counters.refresh_reuse == 0


def _hold_lease_then_wait(values: dict[str, Any], lease_seconds: float, held: EventType) -> None:
    """Play a refresher that took the lease and is about to send: then it gets killed."""
    store = open_store(load_settings(**values))
    row = store.get_connection("acme")
    assert row is not None
    now = time.time()
    assert store.try_acquire_lease(
        row.id, generation=row.generation, owner="doomed", until=now + lease_seconds, now=now
    )
    held.set()
    time.sleep(600)


def _refresh_forever(values: dict[str, Any], offset: float) -> None:
    with open_manager(load_settings(**values), clock=OffsetClock(offset)) as manager:
        manager.access_token("acme")
        time.sleep(600)


def _short_lease_settings(
    sandbox: SandboxServer, database_url: str, tmp: Path, keys: str
) -> Settings:
    return settings_for(
        sandbox,
        database_url,
        tmp,
        keys,
        http_connect_timeout=0.5,
        http_read_timeout=1.0,
        lease_seconds=3.0,
    )


def _wait_for_lease(settings: Settings, timeout: float = 30) -> None:
    store = open_store(settings)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = store.get_connection("acme")
            if row is not None and row.lease_owner is not None:
                return
            time.sleep(0.01)
        raise AssertionError("the refresher never took the lease")
    finally:
        store.close()


def _wait_for_commit(sandbox: SandboxServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sandbox.control.counters().successful_refreshes < 1:
        assert time.monotonic() < deadline, "the sandbox never committed the refresh"
        time.sleep(0.01)


def test_killed_lease_holder_is_taken_over_without_a_double_spend(
    sandbox: SandboxServer, database_url: str, tmp_path: Path, keys: str, clock: OffsetClock
) -> None:
    settings = _short_lease_settings(sandbox, database_url, tmp_path / "data", keys)
    with open_manager(settings, clock=clock) as manager:
        connect(manager, sandbox, "acme")
        held = SPAWN.Event()
        doomed = SPAWN.Process(
            target=_hold_lease_then_wait, args=(settings_values(settings), 3.0, held)
        )
        doomed.start()
        assert held.wait(60)
        os.kill(doomed.pid or 0, signal.SIGKILL)
        doomed.join(10)
        assert doomed.exitcode == -signal.SIGKILL
        clock.advance(HOUR)
        token = manager.access_token("acme")  # waits out the dead lease, then takes over
        assert token.generation == 2
    counters = sandbox.control.counters()
    assert counters.calls("refresh_token", "ok") == 1
    assert counters.refresh_reuse == 0


def test_refresher_killed_after_the_server_committed_is_reported_not_hidden(
    sandbox: SandboxServer, database_url: str, tmp_path: Path, keys: str, clock: OffsetClock
) -> None:
    settings = _short_lease_settings(sandbox, database_url, tmp_path / "data", keys)
    with open_manager(settings, clock=clock) as manager:
        connect(manager, sandbox, "acme")
        clock.advance(HOUR)
        # The answer is delayed after the rotation is committed: the refresher dies in between.
        sandbox.control.set_faults(latency=0.8)
        victim = SPAWN.Process(
            target=_refresh_forever, args=(settings_values(settings), clock.offset)
        )
        victim.start()
        _wait_for_lease(settings)
        _wait_for_commit(sandbox)  # now inside the delayed answer, after the server's commit
        os.kill(victim.pid or 0, signal.SIGKILL)
        victim.join(10)
        sandbox.control.set_faults(latency=0.0)
        with pytest.raises(ReauthorizationRequired) as caught:
            manager.access_token("acme")
        assert caught.value.reason == "rotation_response_lost"
        assert manager.get_connection("acme").status is ConnectionStatus.REAUTH_REQUIRED
    counters = sandbox.control.counters()
    # The server rotated once; the takeover presented the consumed token once to find out.
    assert counters.successful_refreshes == 1
    assert counters.refresh_reuse == 1
