"""keepalive: the keep-alive worker refreshing N due connections against the sandbox.

Target (DESIGN §7): ≥ 300 refreshes/s on one host for 10,000 due connections, scaling with worker
processes on PostgreSQL, and never a double refresh (sandbox counters: successful refreshes == N,
``invalid_grant`` and refresh-token reuse == 0; every row exactly one generation further).

How it runs:

- the sandbox runs in its own process (``python -m cdconnect.cli sandbox --port 0``), so it
  shares no interpreter lock with the workers, and its counters are read over the control API;
- seeding (measured separately): a few connections through the manager's real connect flow,
  then the rest through the sandbox's login-page driver and a real code exchange each, stored
  with the store's ``save_connected`` (benchmarks may use library internals);
- each run spawns worker processes whose managers see a clock one keep-alive interval (plus an
  hour) further on, so every connection is due; each process calls ``keepalive_once`` until a
  cycle claims nothing; the time is from a common start signal to the last process's end;
- SQLite: one worker process. PostgreSQL (a fresh database): the grants are carried over from the
  SQLite vault with ``save_connected`` (their refresh tokens are the live ones), then one and two
  worker processes.

    python -m bench.keepalive [--connections 10000] [--backends sqlite,postgres]
                              [--batch 500] [--concurrency 16] [--seed-threads 16]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url
from tests.fixtures.databases import DEFAULT_POSTGRES_URL, POSTGRES_URL_ENV, libpq_url

from bench.common import database, say, write_result
from cdconnect.manager import open_manager, open_store
from cdconnect.models import ConnectionStatus
from cdconnect.oauth import (
    TokenClient,
    authorization_code_request,
    build_authorization_request,
    build_http_client,
    parse_callback,
    read_claims,
    validate_callback,
)
from cdconnect.sandbox import BROKER_EMAIL, TEST_PASSWORD, SandboxControl, login
from cdconnect.settings import DEFAULT_KEEPALIVE_INTERVAL, Settings, load_settings
from cdconnect.testing import OffsetClock, settings_values
from cdconnect.vault import KeyRing, NewTokens, SqlStore

SPAWN = multiprocessing.get_context("spawn")
TARGET_PER_SECOND = 300
#: How far each run moves the workers' clock: one keep-alive interval and an hour of slack.
STEP = DEFAULT_KEEPALIVE_INTERVAL + 3600
REAL_FLOW_CONNECTIONS = 5
STARTUP_TIMEOUT = 60


# -- the sandbox in its own process -------------------------------------------------------------


@dataclass(frozen=True)
class Sandbox:
    """A sandbox running in another process: what clients need, and its control API."""

    exports: dict[str, str]
    control: SandboxControl

    @property
    def issuer(self) -> str:
        return self.exports["CDCONNECT_ISSUER"]

    @property
    def ca_file(self) -> str:
        return self.exports["CDCONNECT_CA_FILE"]

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def _read_exports(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stdout is not None
    exports: dict[str, str] = {}
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while "CDCONNECT_CA_FILE" not in exports:
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise RuntimeError("the sandbox process did not start")
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exports[name] = shlex.split(value)[0]
    return exports


@contextmanager
def sandbox_process() -> Iterator[Sandbox]:
    command = [sys.executable, "-m", "cdconnect.cli", "sandbox", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        exports = _read_exports(process)
        context = ssl.create_default_context(cafile=exports["CDCONNECT_CA_FILE"])
        with SandboxControl(exports["CDCONNECT_ISSUER"], verify=context) as control:
            yield Sandbox(exports, control)
    finally:
        process.terminate()
        process.wait(30)


def bench_settings(sandbox: Sandbox, database_url: str, data_dir: Path, keys: str) -> Settings:
    env = sandbox.exports
    return load_settings(
        client_id=env["CDCONNECT_CLIENT_ID"],
        client_secret=env["CDCONNECT_CLIENT_SECRET"],
        redirect_uri=env["CDCONNECT_REDIRECT_URI"],
        issuer=sandbox.issuer,
        ca_file=sandbox.ca_file,
        database_url=database_url,
        data_dir=data_dir,
        encryption_keys=keys,
    )


# -- seeding --------------------------------------------------------------------------------------


class Seeder:
    """Real code exchanges at the sandbox, stored directly with ``save_connected``."""

    def __init__(self, settings: Settings, store: SqlStore) -> None:
        self.settings = settings
        self.store = store
        self.http = build_http_client(settings)
        self.tokens = TokenClient(self.http)

    def close(self) -> None:
        self.http.close()

    def seed(self, external_id: str) -> None:
        settings = self.settings
        request = build_authorization_request(
            authorize_endpoint=settings.authorize_endpoint,
            client_id=settings.client_id,
            redirect_uri=settings.redirect_uri,
            scope=settings.scopes,
        )
        location = login(self.http, request.url, BROKER_EMAIL, TEST_PASSWORD)
        params = validate_callback(
            parse_callback(location.partition("?")[2]),
            expected_state=request.state,
            expected_issuer=settings.issuer,
            require_iss=True,
        )
        response = self.tokens.send(
            authorization_code_request(
                settings.token_endpoint,
                settings.connect_credentials(),
                code=params.code,
                redirect_uri=request.redirect_uri,
                code_verifier=request.code_verifier,
            )
        )
        self.store.save_connected(
            external_id,
            NewTokens(
                access_token=response.access_token,
                access_expires_at=response.expires_at,
                refresh_token=response.refresh_token,
                scope=response.scope or settings.scopes,
                claims=read_claims(response.access_token),
            ),
            now=time.time(),
        )


def external_id(index: int) -> str:
    return f"keepalive-{index:06d}"


@contextmanager
def opened_store(settings: Settings) -> Iterator[SqlStore]:
    store = open_store(settings)
    try:
        yield store
    finally:
        store.close()


def connect_for_real(settings: Settings, sandbox: Sandbox, count: int) -> None:
    """The manager's own connect flow: pending state, login page, callback checks, exchange."""
    with open_manager(settings) as manager, httpx.Client(verify=sandbox.ssl_context()) as http:
        for index in range(count):
            start = manager.begin_connect(external_id(index))
            callback = login(http, start.authorize_url, BROKER_EMAIL, TEST_PASSWORD)
            manager.complete_connect(callback)


def seed(settings: Settings, sandbox: Sandbox, count: int, threads: int) -> dict[str, Any]:
    started = time.perf_counter()
    real = min(REAL_FLOW_CONNECTIONS, count)
    connect_for_real(settings, sandbox, real)
    with opened_store(settings) as store:
        seeder = Seeder(settings, store)
        try:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(seeder.seed, map(external_id, range(real, count))))
        finally:
            seeder.close()
    seconds = time.perf_counter() - started
    say(f"seeded {count} connections in {seconds:.1f} s ({count / seconds:.0f}/s)")
    return {
        "connections": count,
        "seconds": round(seconds, 2),
        "per_second": round(count / seconds, 1),
    }


def all_external_ids(store: SqlStore) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list_connections(limit=500, cursor=cursor)
        ids += [connection.external_id for connection in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return ids


def generations(settings: Settings) -> dict[str, int]:
    with opened_store(settings) as store:
        result: dict[str, int] = {}
        cursor: str | None = None
        while True:
            page = store.list_connections(status=ConnectionStatus.ACTIVE, limit=500, cursor=cursor)
            result.update((c.external_id, c.generation) for c in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return result


def transfer(source: Settings, target: Settings, threads: int) -> dict[str, Any]:
    """Carry the live grants over to another vault (the source's copies are not used again)."""
    started = time.perf_counter()
    with opened_store(source) as old, opened_store(target) as new:

        def copy(external: str) -> None:
            row = old.get_connection(external)
            assert row is not None and row.access_token is not None
            tokens = NewTokens(
                access_token=row.access_token,
                access_expires_at=row.access_expires_at or 0.0,
                refresh_token=row.refresh_token,
                scope=row.scope,
                claims=row.claims,
            )
            new.save_connected(external, tokens, now=time.time())

        ids = all_external_ids(old)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(copy, ids))
    seconds = time.perf_counter() - started
    say(f"carried {len(ids)} grants over to PostgreSQL in {seconds:.1f} s")
    return {"connections": len(ids), "seconds": round(seconds, 2)}


# -- worker processes -----------------------------------------------------------------------------


def _worker(
    values: dict[str, Any],
    offset: float,
    batch: int,
    concurrency: int,
    ready: Any,
    go: Event,
    out: Any,
) -> None:
    """One worker host: keep-alive cycles until a cycle finds nothing due."""
    with open_manager(load_settings(**values), clock=OffsetClock(offset)) as manager:
        ready.put(os.getpid())
        go.wait(STARTUP_TIMEOUT)
        cpu_started = time.process_time()
        tally: Counter[str] = Counter()
        while True:
            summary = manager.keepalive_once(
                interval=DEFAULT_KEEPALIVE_INTERVAL, batch=batch, concurrency=concurrency
            )
            tally.update(
                cycles=1,
                claimed=summary.claimed,
                rotated=summary.rotated,
                adopted=summary.adopted,
                reauth_required=summary.reauth_required,
                failed=summary.failed,
            )
            if summary.claimed == 0:
                break
        cpu = time.process_time() - cpu_started
        out.put({**tally, "cpu_seconds": cpu, "finished_at": time.time()})


def run_workers(
    settings: Settings, sandbox: Sandbox, processes: int, offset: float, args: argparse.Namespace
) -> dict[str, Any]:
    before = generations(settings)
    sandbox.control.reset_counters()
    ready, out, go = SPAWN.Queue(), SPAWN.Queue(), SPAWN.Event()
    values = settings_values(settings)
    workers = [
        SPAWN.Process(
            target=_worker, args=(values, offset, args.batch, args.concurrency, ready, go, out)
        )
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=STARTUP_TIMEOUT)
    started = time.time()
    go.set()
    reports = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    seconds = max(report["finished_at"] for report in reports) - started
    return _verdict(settings, sandbox, before, reports, seconds, processes)


def _verdict(
    settings: Settings,
    sandbox: Sandbox,
    before: dict[str, int],
    reports: list[dict[str, Any]],
    seconds: float,
    processes: int,
) -> dict[str, Any]:
    after = generations(settings)
    counters = sandbox.control.counters()
    moved = Counter(after.get(name, 0) - generation for name, generation in before.items())
    rotated = sum(report["rotated"] for report in reports)
    result = {
        "processes": processes,
        "connections": len(before),
        "seconds": round(seconds, 2),
        "refreshes_per_second": round(rotated / seconds, 1),
        "rotated": rotated,
        "failed": sum(report["failed"] for report in reports),
        "cycles_per_process": [report["cycles"] for report in reports],
        "worker_cpu_ms_per_refresh": round(
            1000 * sum(report["cpu_seconds"] for report in reports) / max(rotated, 1), 3
        ),
        "sandbox_refresh_ok": counters.calls("refresh_token", "ok"),
        "sandbox_invalid_grant": counters.calls("refresh_token", "invalid_grant"),
        "sandbox_refresh_reuse": counters.refresh_reuse,
        "rows_moved_by_exactly_one_generation": moved[1],
        "rows_moved_otherwise": sum(n for step, n in moved.items() if step != 1),
        # The figures depend on what else the host runs: record its load next to them.
        "load_average_1m_after": round(os.getloadavg()[0], 2),
    }
    result["double_refreshes"] = max(0, result["sandbox_refresh_ok"] - len(before))
    result["ok"] = (
        result["sandbox_refresh_ok"] == len(before) == rotated == moved[1]
        and result["sandbox_invalid_grant"] == 0
        and result["sandbox_refresh_reuse"] == 0
    )
    say(
        f"  {processes} worker process(es): {rotated} refreshes in {seconds:.2f} s = "
        f"{result['refreshes_per_second']}/s, worker CPU "
        f"{result['worker_cpu_ms_per_refresh']} ms/refresh; "
        f"sandbox ok={result['sandbox_refresh_ok']} "
        f"invalid_grant={result['sandbox_invalid_grant']} reuse={result['sandbox_refresh_reuse']}"
    )
    return result


# -- PostgreSQL -----------------------------------------------------------------------------------


def postgres_problem() -> str | None:
    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL unreachable ({type(exc).__name__})"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database on the test server, dropped afterwards."""
    server = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    name = f"cdconnect_keepalive_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(server), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq_url(server), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def run_postgres(
    source: Settings, sandbox: Sandbox, keys: str, data: Path, args: argparse.Namespace
) -> dict[str, Any]:
    problem = postgres_problem()
    if problem is not None:
        say(f"skipping PostgreSQL: {problem}")
        return {"skipped": problem}
    with fresh_postgres_database() as url:
        settings = bench_settings(sandbox, url, data / "postgres", keys)
        open_store(settings).close()  # migrate once, before the workers start
        result: dict[str, Any] = {"transfer": transfer(source, settings, args.seed_threads)}
        say("postgres:")
        result["one_worker"] = run_workers(settings, sandbox, 1, STEP, args)
        result["two_workers"] = run_workers(settings, sandbox, 2, 2 * STEP, args)
    return result


# -- report ---------------------------------------------------------------------------------------


def summary_rows(results: dict[str, Any], count: int) -> list[list[str]]:
    target = f"≥ {TARGET_PER_SECOND} refreshes/s"
    rows: list[list[str]] = []
    runs: list[dict[str, Any]] = []
    sqlite = results.get("sqlite", {}).get("one_worker")
    if sqlite:
        runs.append(sqlite)
        rows.append(
            [
                f"keep-alive, {count:,} due connections, sqlite, 1 worker process",
                target,
                f"{sqlite['refreshes_per_second']} refreshes/s",
            ]
        )
    postgres = results.get("postgres", {})
    if "one_worker" in postgres:
        one, two = postgres["one_worker"], postgres["two_workers"]
        runs += [one, two]
        scale = two["refreshes_per_second"] / one["refreshes_per_second"]
        rows.append(
            [
                f"keep-alive, {count:,} due connections, postgres, 1 worker process",
                target,
                f"{one['refreshes_per_second']} refreshes/s",
            ]
        )
        rows.append(
            [
                "keep-alive, postgres, 2 worker processes",
                "scales with workers",
                f"{two['refreshes_per_second']} refreshes/s ({scale:.2f}× one process)",
            ]
        )
    if runs:
        doubles = sum(run["double_refreshes"] for run in runs)
        grants = sum(run["sandbox_invalid_grant"] + run["sandbox_refresh_reuse"] for run in runs)
        rows.append(
            [
                "keep-alive: double refreshes / invalid_grant or reuse",
                "0 / 0",
                f"{doubles} / {grants}",
            ]
        )
    seeding = results["seeding"]
    rows.append(
        [
            "keep-alive seeding (real code exchanges, measured apart)",
            "—",
            f"{seeding['per_second']} connections/s",
        ]
    )
    return rows


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed-threads", type=int, default=16)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    backends = set(args.backends.split(","))
    results: dict[str, Any] = {
        "setup": {
            "connections": args.connections,
            "batch": args.batch,
            "concurrency": args.concurrency,
            "sandbox": "separate process, HTTPS",
        }
    }
    with (
        sandbox_process() as sandbox,
        database("sqlite") as sqlite_url,
        tempfile.TemporaryDirectory(prefix="cdconnect-keepalive-") as tmp,
    ):
        data = Path(tmp)
        keys = KeyRing.generate().export()
        sqlite = bench_settings(sandbox, sqlite_url, data / "sqlite", keys)
        results["seeding"] = seed(sqlite, sandbox, args.connections, args.seed_threads)
        if "sqlite" in backends:
            say("sqlite:")
            results["sqlite"] = {"one_worker": run_workers(sqlite, sandbox, 1, STEP, args)}
        if "postgres" in backends:
            results["postgres"] = run_postgres(sqlite, sandbox, keys, data, args)
    results["summary"] = summary_rows(results, args.connections)
    for what, target, measured in results["summary"]:
        print(f"{what}: {measured} (target {target})")
    write_result("keepalive", results)
    runs = [results.get("sqlite", {}).get("one_worker")]
    runs += [results.get("postgres", {}).get(key) for key in ("one_worker", "two_workers")]
    if not all(run["ok"] for run in runs if run):
        sys.exit("keep-alive verification failed: see bench/results/keepalive.json")


if __name__ == "__main__":
    main()
