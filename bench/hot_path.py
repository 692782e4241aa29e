"""hot_path: what a token costs when nothing needs refreshing.

- cache-hit ``access_token()`` (sync and async), target ≤ 5 µs median, no I/O;
- cold read from the store + decrypt (``get_connection``), targets SQLite ≤ 0.3 ms and
  PostgreSQL ≤ 1.5 ms median;
- ``httpx.Auth`` overhead against a static ``Authorization`` header on the same local server
  (the sandbox's listings resource over HTTPS), target ≤ 5 %.

    python -m bench.hot_path [--backends sqlite,postgres] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import httpx
from tests.manager.conftest import connect

from bench.common import bench_settings, running_sandbox, say, write_result
from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.sandbox import SandboxServer

LISTINGS = "/marketplace/v2/listings"
ACCEPT = {"Accept": "application/vnd.coxauto.v2+json"}


def per_call_us(samples_ns: list[float], batch: int) -> float:
    return statistics.median(samples_ns) / batch / 1000


def cache_hit_sync(manager: ConnectionManager, batches: int = 2000, batch: int = 200) -> float:
    manager.access_token("acme")
    samples: list[float] = []
    for _ in range(batches):
        start = time.perf_counter_ns()
        for _ in range(batch):
            manager.access_token("acme")
        samples.append(time.perf_counter_ns() - start)
    return per_call_us(samples, batch)


def cache_hit_async(manager: ConnectionManager, batches: int = 2000, batch: int = 200) -> float:
    async def run() -> list[float]:
        await manager.aaccess_token("acme")
        samples: list[float] = []
        for _ in range(batches):
            start = time.perf_counter_ns()
            for _ in range(batch):
                await manager.aaccess_token("acme")
            samples.append(time.perf_counter_ns() - start)
        return samples

    return per_call_us(asyncio.run(run()), batch)


def cold_read_ms(manager: ConnectionManager, reads: int = 3000) -> float:
    samples: list[float] = []
    for _ in range(reads):
        start = time.perf_counter_ns()
        row = manager.store.get_connection("acme")
        samples.append(time.perf_counter_ns() - start)
        assert row is not None and row.access_token is not None
    return statistics.median(samples) / 1e6


def auth_overhead(
    manager: ConnectionManager, sandbox: SandboxServer, requests: int
) -> dict[str, Any]:
    static = {"Authorization": manager.access_token("acme").authorization_header(), **ACCEPT}
    verify = sandbox.client_ssl_context()
    timings: dict[str, list[float]] = {"static": [], "auth": []}
    block = 100
    with (
        httpx.Client(base_url=sandbox.issuer, verify=verify) as plain,
        httpx.Client(base_url=sandbox.issuer, verify=verify, auth=manager.auth("acme")) as authed,
    ):
        for client, headers in ((plain, static), (authed, ACCEPT)):
            for _ in range(50):  # warm up connections and code paths
                client.get(LISTINGS, headers=headers).raise_for_status()
        # Interleave blocks so drift in machine load hits both sides alike.
        for _ in range(max(1, requests // block)):
            for mode, client, headers in (("static", plain, static), ("auth", authed, ACCEPT)):
                for _ in range(block):
                    start = time.perf_counter_ns()
                    client.get(LISTINGS, headers=headers).raise_for_status()
                    timings[mode].append(time.perf_counter_ns() - start)
    static_ms = statistics.median(timings["static"]) / 1e6
    auth_ms = statistics.median(timings["auth"]) / 1e6
    return {
        "requests_per_mode": len(timings["static"]),
        "static_header_median_ms": round(static_ms, 4),
        "httpx_auth_median_ms": round(auth_ms, 4),
        "overhead_percent": round((auth_ms - static_ms) / static_ms * 100, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with running_sandbox() as sandbox:
        for backend in args.backends.split(","):
            with bench_settings(sandbox, backend) as settings, open_manager(settings) as manager:
                say(f"hot_path on {backend} ...")
                connect(manager, sandbox, "acme")
                results[backend] = {"cold_read_decrypt_median_ms": round(cold_read_ms(manager), 4)}
                if backend == args.backends.split(",")[0]:
                    results["cache_hit_sync_median_us"] = round(cache_hit_sync(manager), 3)
                    results["cache_hit_async_median_us"] = round(cache_hit_async(manager), 3)
                    results["httpx_auth"] = auth_overhead(manager, sandbox, args.requests)
    print(f"cache-hit access_token() sync   median {results['cache_hit_sync_median_us']} µs")
    print(f"cache-hit aaccess_token() async median {results['cache_hit_async_median_us']} µs")
    for backend in args.backends.split(","):
        print(
            f"cold read + decrypt {backend:9} median "
            f"{results[backend]['cold_read_decrypt_median_ms']} ms"
        )
    auth = results["httpx_auth"]
    print(
        f"httpx.Auth {auth['httpx_auth_median_ms']} ms vs static header "
        f"{auth['static_header_median_ms']} ms per request: {auth['overhead_percent']} % overhead"
    )
    write_result("hot_path", results)


if __name__ == "__main__":
    main()
