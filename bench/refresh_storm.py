"""refresh_storm: many callers over threads, processes and "hosts" hit expired connections at once.

Every process has its own manager (cache, HTTP pool, lease owner id), so each is a separate host
as far as cdconnect is concerned; they share only the database and the sandbox. Each round uses
a fresh expired connection. Target (DESIGN §7): exactly one token-endpoint call per expired
connection and zero ``invalid_grant`` caused by our own races.

    python -m bench.refresh_storm [--processes 4] [--threads 12] [--local-threads 50]
                                  [--rounds 5] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Event
from typing import Any

from tests.manager.conftest import connect

from bench.common import bench_settings, running_sandbox, say, summary_ms, write_result
from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.sandbox import SandboxServer
from cdconnect.settings import Settings, load_settings
from cdconnect.testing import OffsetClock, settings_values

SPAWN = multiprocessing.get_context("spawn")
HOUR = 3600.0


def _timed_token(manager: ConnectionManager, external_id: str, start: float) -> tuple[str, float]:
    token = manager.access_token(external_id).access_token.get_secret_value()
    return token, time.perf_counter() - start


def _storm(manager: ConnectionManager, external_id: str, threads: int) -> list[tuple[str, float]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda _: _timed_token(manager, external_id, start), range(threads)))


def _worker(
    values: dict[str, Any], offset: float, threads: int, gos: list[Event], out: Any
) -> None:
    with open_manager(load_settings(**values), clock=OffsetClock(offset)) as manager:
        for round_no, go in enumerate(gos):
            go.wait(120)
            out.put((round_no, _storm(manager, f"storm-{round_no}", threads)))


def run_backend(
    sandbox: SandboxServer, settings: Settings, args: argparse.Namespace
) -> dict[str, Any]:
    clock = OffsetClock()
    sandbox.state.reset()
    with open_manager(settings, clock=clock) as host:
        for round_no in range(args.rounds):
            connect(host, sandbox, f"storm-{round_no}")
        clock.advance(HOUR)
        gos = [SPAWN.Event() for _ in range(args.rounds)]
        out = SPAWN.Queue()
        values = settings_values(settings)
        workers = [
            SPAWN.Process(target=_worker, args=(values, clock.offset, args.threads, gos, out))
            for _ in range(args.processes)
        ]
        for worker in workers:
            worker.start()
        time.sleep(2.0)  # imports and pools warm up before the first round
        durations: list[float] = []
        distinct_tokens_per_round: list[int] = []
        for round_no, go in enumerate(gos):
            go.set()
            results = _storm(host, f"storm-{round_no}", args.local_threads)
            results += [r for _ in workers for r in out.get(timeout=120)[1]]
            durations += [elapsed for _, elapsed in results]
            distinct_tokens_per_round.append(len({token for token, _ in results}))
        for worker in workers:
            worker.join(60)
    counters = sandbox.control.counters()
    return {
        "rounds": args.rounds,
        "callers_per_round": args.local_threads + args.processes * args.threads,
        "refresh_calls": counters.calls("refresh_token"),
        "refresh_ok": counters.calls("refresh_token", "ok"),
        "invalid_grant": counters.calls("refresh_token", "invalid_grant"),
        "refresh_token_reuse": counters.refresh_reuse,
        "refresh_calls_per_expired_connection": counters.calls("refresh_token") / args.rounds,
        "distinct_tokens_per_round": distinct_tokens_per_round,
        "time_to_token": summary_ms(durations),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=12, help="threads per process")
    parser.add_argument("--local-threads", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "setup": {
            "processes": args.processes,
            "threads_per_process": args.threads,
            "local_threads": args.local_threads,
            "hosts": args.processes + 1,
        }
    }
    with running_sandbox() as sandbox:
        for backend in args.backends.split(","):
            with bench_settings(sandbox, backend) as settings:
                say(f"refresh_storm on {backend} ...")
                results[backend] = outcome = run_backend(sandbox, settings, args)
                print(
                    f"{backend:9} callers/round={outcome['callers_per_round']} "
                    f"rounds={outcome['rounds']} refresh calls/expired connection="
                    f"{outcome['refresh_calls_per_expired_connection']:.2f} "
                    f"invalid_grant={outcome['invalid_grant']} "
                    f"time to token p50={outcome['time_to_token']['p50_ms']} ms "
                    f"p99={outcome['time_to_token']['p99_ms']} ms"
                )
    write_result("refresh_storm", results)


if __name__ == "__main__":
    main()
