"""chaos: the chaos trials of tests/chaos by the hundred, on SQLite and PostgreSQL.

Each trial: one or two connections, three worker processes (two threads each) refreshing them
at once (expired clocks or forced refreshes), a random sandbox fault (none, latency, 5xx with or
without an OAuth body, drop-after-commit, hang-after-commit), SIGKILLs at random points, then a
surviving worker resolves every connection with the faults off and the invariants are checked
(tests/chaos/invariants.py). Prints counts per fault kind; exits 1 if any invariant broke.

    python -m bench.chaos [--trials 200] [--backends sqlite,postgres] [--seed N] [--show 20]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.chaos.facts import TrialFacts
from tests.chaos.plan import MAX_KILLS, WORKERS, balanced_kinds, draw_plan
from tests.chaos.pool import WarmPool
from tests.chaos.tally import KindTally, tally
from tests.chaos.trial import SHORT_TIMEOUTS, TrialEnv, run_trial

from bench.common import bench_settings, running_sandbox, say, write_result
from cdconnect.manager import open_manager
from cdconnect.sandbox import SandboxServer


def run_backend(
    sandbox: SandboxServer, pool: WarmPool, backend: str, trials: int, rng: random.Random
) -> list[TrialFacts]:
    results = []
    with (
        bench_settings(sandbox, backend, **SHORT_TIMEOUTS) as settings,
        open_manager(settings) as host,
        httpx.Client(verify=sandbox.client_ssl_context(), timeout=10) as http,
        tempfile.TemporaryDirectory(prefix="cdconnect-chaos-logs-") as logs,
    ):
        env = TrialEnv(sandbox, settings, host, pool, Path(logs), http)
        for number, kind in enumerate(balanced_kinds(rng, trials)):
            results.append(run_trial(env, draw_plan(rng, number, kind)))
            if (number + 1) % 25 == 0:
                say(f"  {backend}: {number + 1}/{trials} trials")
            # Logs are only needed while their trial is checked; keep the disk use flat.
            for log in Path(logs).iterdir():
                log.unlink()
    return results


def print_table(backend: str, kinds: dict[str, KindTally]) -> None:
    print(f"\n{backend}")
    print(
        f"{'fault':18} {'trials':>6} {'conns':>5} {'usable':>6} {'lost':>5} {'other':>5} "
        f"{'kills':>5} {'drop':>4} {'hung':>4} {'killed':>6} {'timeout':>7} {'errors':>6} "
        f"{'viol':>4}"
    )
    for kind, t in kinds.items():
        lost = t.reauth_required.get("rotation_response_lost", 0)
        other = sum(t.reauth_required.values()) - lost
        print(
            f"{kind:18} {t.trials:6} {t.connections:5} {t.usable:6} {lost:5} {other:5} "
            f"{t.kills:5} {t.dropped:4} {t.hung:4} {t.answered_but_unstored:6} "
            f"{t.read_timeouts:7} {sum(t.worker_errors.values()):6} {len(t.violations):4}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="trials per backend")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--show", type=int, default=20, help="violations to print at most")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    results: dict[str, Any] = {
        "setup": {
            "seed": seed,
            "trials_per_backend": args.trials,
            "workers_per_trial": WORKERS,
            "threads_per_worker": 2,
            "max_kills_per_trial": MAX_KILLS,
            **SHORT_TIMEOUTS,
        }
    }
    violations: list[str] = []
    started = time.monotonic()
    with running_sandbox() as sandbox:
        pool = WarmPool(WORKERS + MAX_KILLS)
        try:
            for backend in args.backends.split(","):
                say(f"chaos on {backend}: {args.trials} trials (seed {seed}) ...")
                kinds = tally(run_backend(sandbox, pool, backend, args.trials, rng))
                print_table(backend, kinds)
                results[backend] = {kind: t.as_json() for kind, t in kinds.items()}
                violations += kinds["all"].violations
        finally:
            pool.close()
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["violations"] = violations
    write_result("chaos", results)
    for line in violations[: args.show]:
        print("VIOLATION", line)
    if violations:
        sys.exit(1)


if __name__ == "__main__":
    main()
