"""connect_flow: the connect service's throughput against the sandbox.

- completed connects per second through the service (target ≥ 200/s): the callback, the code
  exchange at the sandbox's token endpoint and the encrypted write, measured on callbacks
  prepared beforehand (connect session → link → login page → redirect back); run in one process
  with 1 and 4 threads, and in 2 processes (the service's ``--workers 2``) sharing the database;
- the whole flow per customer (connect session, link, both login-page requests, callback);
- token-API requests per second on cached tokens (``POST /api/connections/{id}/access-token``).

The service and the sandbox run in-process (ASGI, no sockets or TLS), each process with its own
sandbox: the figures are the cost of the service, the manager, the vault *and* the sandbox's
own work (RS256 signing, its pages), not of the loopback network.

    python -m bench.connect_flow [--backends sqlite,postgres] [--connects 600]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.common import database, say, summary_ms, write_result
from cdconnect.manager import ConnectionManager, open_store
from cdconnect.sandbox import (
    BROKER_EMAIL,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SERVICE_CLIENT_ID,
    SERVICE_CLIENT_SECRET,
    TEST_PASSWORD,
    SigningKey,
    create_sandbox_app,
    default_config,
    login,
)
from cdconnect.sandbox.inprocess import in_process_client
from cdconnect.settings import load_settings
from cdconnect.vault.crypto import KeyRing
from cdconnect.web import create_app

SANDBOX_URL = "https://sandbox.test"
SERVICE_URL = "https://testserver"
ADMIN_KEY = "bench-admin-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@dataclass(frozen=True)
class Target:
    """What every process needs to open the same vault (picklable)."""

    database_url: str
    keys: str
    data_dir: str


@dataclass
class Stack:
    manager: ConnectionManager
    sandbox: httpx.Client
    service: httpx.Client

    @staticmethod
    def path(url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


@contextmanager
def in_process_stack(target: Target) -> Iterator[Stack]:
    redirect_uri = f"{SERVICE_URL}/callback"
    sandbox_app = create_sandbox_app(
        default_config().with_redirect_uris(redirect_uri), signing_key=SigningKey.generate()
    )
    settings = load_settings(
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        service_client_id=SERVICE_CLIENT_ID,
        service_client_secret=SERVICE_CLIENT_SECRET,
        issuer=SANDBOX_URL,
        redirect_uri=redirect_uri,
        database_url=target.database_url,
        data_dir=Path(target.data_dir),
        encryption_keys=target.keys,
        admin_tokens=ADMIN_KEY,
    )
    sandbox = in_process_client(sandbox_app, base_url=SANDBOX_URL)
    manager = ConnectionManager(settings, open_store(settings), http=sandbox)
    service = in_process_client(create_app(settings, manager), base_url=SERVICE_URL)
    # The client stands in for many browsers at once: it keeps no cookies of its own, each
    # connect carries its binding cookie explicitly (see Prepared).
    service.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    try:
        yield Stack(manager, sandbox, service)
    finally:
        service.close()
        manager.close()
        sandbox.close()


@dataclass(frozen=True)
class Prepared:
    """A callback ready to be finished, with the browser-binding cookie of its own "browser"."""

    callback: str
    cookie: str


def prepare_callback(stack: Stack, external_id: str) -> Prepared:
    """Connect session → link → the sandbox's login page → the redirect back (not followed)."""
    session = stack.service.post(
        "/api/connect-sessions", json={"external_id": external_id}, headers=ADMIN
    )
    session.raise_for_status()
    opened = stack.service.get(stack.path(session.json()["connect_url"]))
    assert opened.status_code == 302, opened.text
    # Each connect is its own browser: keep its binding cookie apart from the shared client.
    cookie = opened.headers["set-cookie"].split(";", 1)[0]
    callback = login(stack.sandbox, opened.headers["location"], BROKER_EMAIL, TEST_PASSWORD)
    return Prepared(callback, cookie)


def finish_callback(stack: Stack, prepared: Prepared) -> None:
    response = stack.service.get(stack.path(prepared.callback), headers={"Cookie": prepared.cookie})
    assert response.status_code == 200, response.text


@dataclass(frozen=True)
class Run:
    started: float
    ended: float
    latencies: list[float]


def timed_run(work: Callable[[int], None], count: int, threads: int) -> Run:
    latencies: list[float] = []

    def one(index: int) -> None:
        start = time.perf_counter()
        work(index)
        latencies.append(time.perf_counter() - start)

    started = time.time()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(count)))
    return Run(started, time.time(), latencies)


def figures(runs: Sequence[Run], **labels: Any) -> dict[str, Any]:
    count = sum(len(run.latencies) for run in runs)
    seconds = max(run.ended for run in runs) - min(run.started for run in runs)
    latencies = [value for run in runs for value in run.latencies]
    return {**labels, "count": count, "per_second": round(count / seconds, 1)} | summary_ms(
        latencies
    )


def callback_worker(target: Target, count: int, threads: int, tag: str, start: Any) -> Run:
    """Prepare ``count`` callbacks, wait for the start signal, then finish them all."""
    with in_process_stack(target) as stack:
        for i in range(10):  # warm up code paths and pooled connections
            finish_callback(stack, prepare_callback(stack, f"{tag}-warm-{i}"))
        callbacks = [prepare_callback(stack, f"{tag}-{i}") for i in range(count)]
        start.wait()
        return timed_run(lambda i: finish_callback(stack, callbacks[i]), count, threads)


def callbacks_in_processes(
    target: Target, count: int, processes: int, threads: int, tag: str
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as shared, context.Pool(processes) as pool:
        start = shared.Barrier(processes)
        jobs = [
            pool.apply_async(
                callback_worker, (target, count // processes, threads, f"{tag}{p}", start)
            )
            for p in range(processes)
        ]
        runs = [job.get() for job in jobs]
    return figures(runs, processes=processes, threads=threads)


def full_flows(stack: Stack, count: int, threads: int, tag: str) -> dict[str, Any]:
    def work(i: int) -> None:
        finish_callback(stack, prepare_callback(stack, f"{tag}-{i}"))

    return figures([timed_run(work, count, threads)], processes=1, threads=threads)


def token_api(stack: Stack, count: int, threads: int) -> dict[str, Any]:
    ids = [f"token-{i}" for i in range(10)]
    for external_id in ids:
        finish_callback(stack, prepare_callback(stack, external_id))

    def work(i: int) -> None:
        response = stack.service.post(
            f"/api/connections/{ids[i % len(ids)]}/access-token", headers=ADMIN
        )
        assert response.status_code == 200, response.text

    for i in range(200):  # every token cached, code paths hot
        work(i)
    return figures([timed_run(work, count, threads)], processes=1, threads=threads)


def measure(backend: str, connects: int, token_requests: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with database(backend) as url, _data_dir() as data_dir:
        target = Target(url, KeyRing.generate().export(), data_dir)
        for processes, threads in ((1, 1), (1, 4), (2, 2)):
            say(f"connect_flow {backend}: callbacks, {processes} process(es) × {threads} ...")
            results[f"callbacks_{processes}p{threads}t"] = callbacks_in_processes(
                target, connects, processes, threads, f"cb{processes}{threads}"
            )
        with in_process_stack(target) as stack:
            say(f"connect_flow {backend}: full flows and token API ...")
            results["full_flow_1p1t"] = full_flows(stack, connects // 2, 1, "ff")
            for threads in (1, 4):
                results[f"token_api_1p{threads}t"] = token_api(stack, token_requests, threads)
    return results


@contextmanager
def _data_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="cdconnect-bench-data-") as path:
        yield path


def summary_rows(backend: str, results: dict[str, Any]) -> list[list[str]]:
    """Rows for bench/report.py: [what, target, measured]."""
    shapes = {k: v for k, v in results.items() if k.startswith("callbacks_")}
    best_key = max(shapes, key=lambda key: shapes[key]["per_second"])
    best = shapes[best_key]
    tried = ", ".join(
        f"{v['processes']}p×{v['threads']}t {v['per_second']}/s" for v in shapes.values()
    )
    full, token = results["full_flow_1p1t"], results["token_api_1p1t"]
    return [
        [
            f"service: callback + code exchange + store, {backend} (best of {tried})",
            "≥ 200 /s",
            f"{best['per_second']} /s ({best['processes']} process(es) × {best['threads']} "
            f"threads, p50 {best['p50_ms']} ms)",
        ],
        [
            f"service: whole connect flow incl. login pages, {backend}, 1 thread",
            "—",
            f"{full['per_second']} /s (p50 {full['p50_ms']} ms)",
        ],
        [
            f"service: token API on cached tokens, {backend}, 1 thread",
            "—",
            f"{token['per_second']} /s (p50 {token['p50_ms']} ms)",
        ],
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--connects", type=int, default=600)
    parser.add_argument("--token-requests", type=int, default=5000)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "transport": "in-process ASGI (service and sandbox)",
        # Other work on the machine skews every figure; the load average says how much.
        "load_average_before": [round(value, 2) for value in os.getloadavg()],
        "summary": [],
    }
    for backend in args.backends.split(","):
        results[backend] = measure(backend, args.connects, args.token_requests)
        results["summary"] += summary_rows(backend, results[backend])
        for name, value in results[backend].items():
            print(
                f"{backend:8} {name:18} {value['per_second']:>8} /s   "
                f"p50 {value['p50_ms']} ms  p99 {value['p99_ms']} ms"
            )
    results["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    write_result("connect_flow", results)


if __name__ == "__main__":
    main()
