"""``cdconnect worker``: keep-alive cycles, pauses, signals, and the loop's failure handling."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cdconnect.cli.worker_loop import JITTER, WorkerOptions, next_pause, run_worker
from cdconnect.errors import StoreError
from cdconnect.manager import ConnectionManager, KeepAliveSummary, open_manager
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings
from cdconnect.testing import OffsetClock
from cdconnect.vault import KeyRing, SqlStore
from cdconnect.vault.engine import open_database
from tests.cli.conftest import SUBPROCESS_TIMEOUT, RunCli, RunSubprocess
from tests.cli.test_app import closed_port
from tests.manager.conftest import connect


def summary(claimed: int) -> KeepAliveSummary:
    return KeepAliveSummary(claimed, claimed, 0, 0, 0, 0.1)


@pytest.fixture
def three_due(seed: ConnectionManager, sandbox: SandboxServer) -> ConnectionManager:
    for name in ("a1", "a2", "a3"):
        connect(seed, sandbox, name)
    return seed


def test_pause_is_jittered_and_skipped_after_a_full_batch() -> None:
    rng = random.Random(7)
    options = WorkerOptions(batch=10, pause=60.0)
    pauses = [next_pause(summary(3), options, rng) for _ in range(200)]
    assert all(60 * (1 - JITTER) <= p <= 60 * (1 + JITTER) for p in pauses)
    assert len(set(pauses)) > 1
    assert next_pause(summary(10), options, rng) == 0.0


def test_once_runs_one_cycle_and_refreshes_due_connections(
    run_cli: RunCli, three_due: ConnectionManager, sandbox: SandboxServer
) -> None:
    result = run_cli("worker", "--once", "--interval", "0", "--json")
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    cycle = json.loads(line)
    assert cycle["cycle"] == 1 and cycle["claimed"] == 3 and cycle["rotated"] == 3
    assert "keep-alive cycle 1: claimed=3 rotated=3" in result.stderr
    assert [three_due.get_connection(n).generation for n in ("a1", "a2", "a3")] == [2, 2, 2]
    assert sandbox.control.counters().calls("refresh_token", "ok") == 3


def test_nothing_is_due_with_the_default_interval(
    run_cli: RunCli, three_due: ConnectionManager
) -> None:
    result = run_cli("worker", "--once")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "claimed=0 rotated=0" in result.stderr


def test_loop_drains_full_batches_until_stopped(
    three_due: ConnectionManager, cli_settings: Settings
) -> None:
    stop = threading.Event()
    seen: list[KeepAliveSummary] = []

    def report(cycle: int, result: KeepAliveSummary) -> None:
        seen.append(result)
        if cycle == 4:
            stop.set()

    # Two hours from now, the connections made a moment ago are due (interval one hour).
    options = WorkerOptions(interval=3600, batch=1, pause=0.01)
    with open_manager(cli_settings, clock=OffsetClock(offset=7200)) as later:
        cycles = run_worker(later, options, stop=stop, report=report, report_error=print)
    assert cycles == 4
    assert [s.claimed for s in seen] == [1, 1, 1, 0]
    assert [three_due.get_connection(n).generation for n in ("a1", "a2", "a3")] == [2, 2, 2]


def test_loop_survives_an_unreachable_database_but_once_does_not(
    cli_settings: Settings,
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/cdconnect"
    store = SqlStore(open_database(url), KeyRing.generate())
    stop = threading.Event()
    errors: list[StoreError] = []

    def report_error(error: StoreError) -> None:
        errors.append(error)
        if len(errors) == 2:
            stop.set()

    with ConnectionManager(cli_settings, store) as manager:
        options = WorkerOptions(pause=0.01)
        cycles = run_worker(
            manager, options, stop=stop, report=lambda *_: None, report_error=report_error
        )
        assert cycles == 2 and len(errors) == 2
        with pytest.raises(StoreError):
            run_worker(
                manager,
                WorkerOptions(once=True),
                stop=stop,
                report=lambda *_: None,
                report_error=report_error,
            )


def test_worker_once_as_a_real_process(
    run_subprocess: RunSubprocess, three_due: ConnectionManager, sandbox: SandboxServer
) -> None:
    result = run_subprocess("worker", "--once", "--interval", "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "claimed=3 rotated=3" in result.stderr
    assert sandbox.control.counters().calls("refresh_token", "ok") == 3


def wait_for_refreshes(sandbox: SandboxServer, count: int) -> None:
    """Block until the sandbox has answered ``count`` refreshes (a generous deadline, no timing)."""
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT
    while sandbox.control.counters().calls("refresh_token", "ok") < count:
        assert time.monotonic() < deadline, "the worker never refreshed"
        time.sleep(0.02)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_lets_the_current_cycle_finish_then_exits_0(
    three_due: ConnectionManager, sandbox: SandboxServer, tmp_path: Path, signum: int
) -> None:
    # One refresh at a time, each slow: the signal lands after the first of the cycle's three.
    sandbox.control.set_faults(latency=0.3)
    command = ["worker", "--interval", "0", "--pause", "0", "--concurrency", "1", "--json"]
    process = subprocess.Popen(
        [sys.executable, "-m", "cdconnect.cli", *command],
        env=dict(os.environ),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_refreshes(sandbox, 1)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, stderr
    (line,) = stdout.splitlines()
    assert json.loads(line) | {"seconds": 0} == {
        "cycle": 1,
        "claimed": 3,
        "rotated": 3,
        "adopted": 0,
        "reauth_required": 0,
        "failed": 0,
        "seconds": 0,
    }
    assert f"{signal.Signals(signum).name}: stopping after the current cycle" in stderr
    counters = sandbox.control.counters()
    assert counters.calls("refresh_token", "ok") == 3
    assert counters.calls("refresh_token", "invalid_grant") == 0 and counters.refresh_reuse == 0
