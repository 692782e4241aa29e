"""Run one chaos trial: connect, storm with faults and kills, resolve, and collect the facts.

The parent process owns the sandbox (in-process server), a host manager on the trial's vault
(it connects the customers and reads the rows) and the pool of worker processes. Worker 0 is the
survivor: never killed, it resolves every connection once the faults are off.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cdconnect.manager import ConnectionManager
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings
from cdconnect.testing import settings_values
from cdconnect.vault.api import ConnectionRow
from tests.chaos.facts import TrialFacts
from tests.chaos.logscan import count_read_timeouts, scan_logs
from tests.chaos.messages import (
    Closed,
    Command,
    JobFailed,
    Ready,
    Resolution,
    ResolveReport,
    StormJob,
    StormReport,
)
from tests.chaos.observe import connection_facts, known_secrets, read_rows, sandbox_facts
from tests.chaos.plan import FAULTS_OFF, SURVIVOR, Kill, KillAt, RefreshMode, TrialPlan
from tests.chaos.pool import WarmPool, Worker, WorkerGone
from tests.manager.conftest import connect

HOUR = 3600.0
#: Settings overrides for trials. The lease must be ≥ 2 × (connect + read) timeouts; short ones
#: make a killed worker's lease expire, and a hung answer time out, within seconds.
SHORT_TIMEOUTS: dict[str, float] = {
    "http_connect_timeout": 0.5,
    "http_read_timeout": 1.0,
    "lease_seconds": 3.0,
}
#: Bounds on waiting for workers: far above what a healthy trial needs, so only a stuck worker
#: trips them (and is reported, not waited for forever).
READY_TIMEOUT = 60.0
STORM_TIMEOUT = 90.0
#: How long a lease-holder kill watches the rows for a lease before giving up on that kill.
LEASE_WATCH_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class TrialEnv:
    sandbox: SandboxServer
    settings: Settings
    host: ConnectionManager
    pool: WarmPool
    log_dir: Path
    #: Trusts the sandbox's CA: calls the listings resource with the stored tokens.
    http: httpx.Client


def run_trial(env: TrialEnv, plan: TrialPlan) -> TrialFacts:
    """Run ``plan`` against a freshly reset sandbox; the facts say what happened."""
    return Trial(env, plan).run()


class Trial:
    def __init__(self, env: TrialEnv, plan: TrialPlan) -> None:
        self.env = env
        self.plan = plan
        self.external_ids = tuple(f"chaos-{plan.number}-{i}" for i in range(plan.connections))
        self.logs = [
            env.log_dir / f"trial-{plan.number}-worker-{i}.log" for i in range(plan.workers)
        ]
        self.workers: list[Worker] = []
        self.killed: list[Worker] = []
        #: Workers SIGKILL ended on purpose (a stuck worker killed to end a trial is not one).
        self.kills = 0
        self.reports: list[StormReport] = []
        self.unexpected: list[str] = []
        self.snapshots: list[Mapping[str, ConnectionRow]] = []

    def run(self) -> TrialFacts:
        self.env.sandbox.state.reset()
        for external_id in self.external_ids:
            connect(self.env.host, self.env.sandbox, external_id)
        before = self._rows()
        self.workers = self.env.pool.take(self.plan.workers)
        try:
            self._start_jobs()
            self.env.sandbox.control.set_faults(**self.plan.fault.switches())
            self._storm()
            self.snapshots.append(self._rows())
            self.env.sandbox.control.set_faults(**FAULTS_OFF)
            self.env.sandbox.control.release_hangs()
            resolutions = self._resolve()
        finally:
            self._return_workers()
        return self._facts(before, resolutions)

    # -- workers ----------------------------------------------------------------------------
    def _start_jobs(self) -> None:
        offset = HOUR if self.plan.mode is RefreshMode.EXPIRED else 0.0
        values = settings_values(self.env.settings)
        for worker, log in zip(self.workers, self.logs, strict=True):
            worker.send(
                StormJob(
                    settings=values,
                    clock_offset=offset,
                    external_ids=self.external_ids,
                    mode=self.plan.mode,
                    threads=self.plan.threads,
                    rounds=self.plan.rounds,
                    log_file=str(log),
                )
            )
        for worker in self.workers:
            answer = worker.receive(READY_TIMEOUT)
            if isinstance(answer, JobFailed):
                raise AssertionError(f"a worker could not open the vault:\n{answer.error}")
            assert isinstance(answer, Ready), f"worker said {answer!r}"

    def _storm(self) -> None:
        # The survivor starts last: a head start would let it win every lease, leaving the
        # lease-holder kills nobody to kill.
        for worker in reversed(self.workers):
            worker.send(Command.GO)
        started = time.monotonic()
        for kill in self.plan.kills:
            self._execute(kill, started)
        for worker in self.workers:
            if worker in self.killed:
                # It may have finished (and reported) before it was killed.
                self._take_reports(worker.pending())
            else:
                self._take_reports([self._receive(worker, STORM_TIMEOUT)])

    def _take_reports(self, messages: Iterable[Any]) -> None:
        for message in messages:
            if isinstance(message, StormReport):
                self.reports.append(message)
                self.unexpected += message.unexpected

    def _receive(self, worker: Worker, timeout: float) -> Any:
        try:
            return worker.receive(timeout)
        except WorkerGone as exc:
            self.unexpected.append(f"{exc} (exit code {worker.process.exitcode})")
            worker.kill()
            self.killed.append(worker)  # so the pool replaces it; not counted as a kill
            return None

    def _execute(self, kill: Kill, started: float) -> None:
        if kill.at is KillAt.DELAY:
            assert kill.victim is not None
            time.sleep(max(0.0, started + kill.delay - time.monotonic()))
            victim: Worker | None = self.workers[kill.victim]
        else:
            victim = self._lease_holder()
            time.sleep(kill.delay)
        if victim is not None and victim not in self.killed and victim.kill():
            self.killed.append(victim)
            self.kills += 1

    def _lease_holder(self) -> Worker | None:
        """The first killable worker seen holding a refresh lease (None if none shows up)."""
        candidates = {
            w.pid: w for i, w in enumerate(self.workers) if i != SURVIVOR and w not in self.killed
        }
        deadline = time.monotonic() + LEASE_WATCH_SECONDS
        while time.monotonic() < deadline and candidates:
            for row in self._rows().values():
                pid = _owner_pid(row.lease_owner)
                if pid in candidates:
                    return candidates[pid]
            time.sleep(0.005)
        return None

    def _resolve(self) -> tuple[Resolution, ...]:
        survivor = self.workers[SURVIVOR]
        survivor.send(Command.RESOLVE)
        report = self._receive(survivor, STORM_TIMEOUT)
        if not isinstance(report, ResolveReport):
            return tuple(Resolution(e, "no answer from the survivor") for e in self.external_ids)
        self.unexpected += [r.unexpected for r in report.resolutions if r.unexpected]
        return report.resolutions

    def _return_workers(self) -> None:
        for worker in self.workers:
            if worker in self.killed:
                self.env.pool.replace(worker)
                continue
            worker.send(Command.CLOSE)
            closed = self._receive(worker, READY_TIMEOUT)
            if isinstance(closed, Closed):
                self.env.pool.put_back(worker)
            else:
                self.env.pool.replace(worker)

    # -- facts ------------------------------------------------------------------------------
    def _rows(self) -> dict[str, ConnectionRow]:
        return read_rows(self.env.host, self.external_ids)

    def _facts(
        self, before: Mapping[str, ConnectionRow], resolutions: tuple[Resolution, ...]
    ) -> TrialFacts:
        after = self._rows()
        by_id = {r.external_id: r for r in resolutions}
        counters = self.env.sandbox.control.counters()
        connections = tuple(
            connection_facts(
                self.env.sandbox, self.env.http, (before[e], after[e]), counters, by_id[e]
            )
            for e in self.external_ids
        )
        errors: Counter[str] = Counter()
        for report in self.reports:
            errors.update(report.errors)
        snapshots = [before, *self.snapshots, after]
        secrets = known_secrets(self.env.sandbox, self.env.settings, snapshots)
        return TrialFacts(
            plan=self.plan,
            connections=connections,
            sandbox=sandbox_facts(counters),
            kills=self.kills,
            read_timeouts=count_read_timeouts(self.logs),
            worker_errors=dict(errors),
            unexpected=tuple(self.unexpected),
            leaks=tuple(scan_logs(self.logs, secrets)),
        )


def _owner_pid(owner: str | None) -> int | None:
    """The pid in a lease owner id (``host:pid:random``, see ``default_owner``)."""
    if owner is None:
        return None
    parts = owner.rsplit(":", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
