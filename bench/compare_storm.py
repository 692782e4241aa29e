"""compare_storm: one expired connection, K worker processes at once: cdconnect vs. Authlib and
requests-oauthlib, against the sandbox over HTTPS.

Each of the K processes makes one call to the listings resource with an expired access token, so
the library must refresh first. Authlib (``OAuth2Client`` with ``token_endpoint`` and
``update_token``) and requests-oauthlib (``OAuth2Session`` with ``auto_refresh_url`` and
``token_updater``) load the token from a shared JSON file at start and write refreshed tokens
back to it, the usual pattern; cdconnect workers share its vault. Measured per library: refresh
calls and ``invalid_grant`` answers (sandbox counters), successful resource calls, whether what
is left in the file / vault still refreshes, and whether a secret shows in the DEBUG logs.

    python -m bench.compare_storm [--workers 8,32] [--backend sqlite] [--revoke-on-reuse]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.chaos.logscan import KnownSecrets, scan_logs
from tests.fixtures.sandbox import SANDBOX_TEST_REDIRECT_URIS
from tests.manager.conftest import connect

from bench.common import bench_settings, say, summary_ms, write_result
from bench.compare.tokens import (
    expired,
    login_and_exchange,
    probe_refresh,
    read_token,
    write_token,
)
from bench.compare.workers import (
    CDCONNECT,
    EXTERNAL_ID,
    LIBRARIES,
    WorkerResult,
    WorkerSpec,
    run_worker,
)
from cdconnect.manager import open_manager
from cdconnect.sandbox import CounterSnapshot, SandboxServer, default_config
from cdconnect.testing import settings_values

SPAWN = multiprocessing.get_context("spawn")
HOUR = 3600.0
#: Generous bound on K cold process starts on a small machine.
START_TIMEOUT = 600.0


@contextmanager
def sandbox_server(revoke_on_reuse: bool) -> Iterator[SandboxServer]:
    config = dataclasses.replace(default_config(), revoke_grant_on_reuse=revoke_on_reuse)
    with SandboxServer(config.with_redirect_uris(*SANDBOX_TEST_REDIRECT_URIS)) as server:
        yield server


def storm(specs: list[WorkerSpec]) -> list[WorkerResult]:
    """Start every worker, wait until all are ready, release them at once, collect."""
    ready, out, go = SPAWN.Queue(), SPAWN.Queue(), SPAWN.Event()
    workers = [SPAWN.Process(target=run_worker, args=(spec, ready, go, out)) for spec in specs]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=START_TIMEOUT)
    go.set()
    results: list[WorkerResult] = [out.get(timeout=START_TIMEOUT) for _ in workers]
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0, f"a {specs[0].library} worker exited with {worker.exitcode}"
    return results


def base_spec(sandbox: SandboxServer, library: str, log_file: Path) -> WorkerSpec:
    env = sandbox.env()
    return WorkerSpec(
        library=library,
        issuer=sandbox.issuer,
        ca_file=str(sandbox.ca_file),
        client_id=env["CDCONNECT_CLIENT_ID"],
        client_secret=env["CDCONNECT_CLIENT_SECRET"],
        log_file=str(log_file),
    )


def run_cdconnect(sandbox: SandboxServer, k: int, backend: str, tmp: Path) -> dict[str, Any]:
    with bench_settings(sandbox, backend) as settings, open_manager(settings) as host:
        connect(host, sandbox, EXTERNAL_ID)
        before = host.store.get_connection(EXTERNAL_ID)
        assert before is not None
        specs = [
            dataclasses.replace(
                base_spec(sandbox, CDCONNECT, tmp / f"worker-{i}.log"),
                settings=settings_values(settings),
                clock_offset=HOUR,
            )
            for i in range(k)
        ]
        results = storm(specs)
        counters = sandbox.control.counters()
        after = host.store.get_connection(EXTERNAL_ID)
        assert after is not None
        held = [
            s.get_secret_value()
            for row in (before, after)
            for s in (row.access_token, row.refresh_token)
            if s is not None
        ]
        refresh = after.refresh_token.get_secret_value() if after.refresh_token else None
        usable = (
            probe_refresh(sandbox, refresh)
            if after.status.value == "active"
            else f"{after.status.value} ({after.reauth_reason})"
        )
    return outcome(sandbox, results, counters, usable, held, tmp)


def run_with_token_file(sandbox: SandboxServer, library: str, k: int, tmp: Path) -> dict[str, Any]:
    token = login_and_exchange(sandbox)
    token_file = tmp / "token.json"
    write_token(token_file, expired(token))
    specs = [
        dataclasses.replace(
            base_spec(sandbox, library, tmp / f"worker-{i}.log"), token_file=str(token_file)
        )
        for i in range(k)
    ]
    results = storm(specs)
    counters = sandbox.control.counters()
    final = read_token(token_file)
    held = [str(t[key]) for t in (token, final) for key in ("access_token", "refresh_token")]
    usable = probe_refresh(sandbox, final.get("refresh_token"))
    return outcome(sandbox, results, counters, usable, held, tmp)


def outcome(
    sandbox: SandboxServer,
    results: list[WorkerResult],
    counters: CounterSnapshot,
    usable: str,
    held: list[str],
    tmp: Path,
) -> dict[str, Any]:
    failures = Counter(r.error or f"HTTP {r.status_code}" for r in results if r.status_code != 200)
    return {
        "workers": len(results),
        "refresh_calls": counters.calls("refresh_token"),
        "refresh_ok": counters.calls("refresh_token", "ok"),
        "invalid_grant": counters.calls("refresh_token", "invalid_grant"),
        "resource_ok": sum(1 for r in results if r.status_code == 200),
        "resource_failures": dict(failures),
        "usable_after": usable,
        "secrets_in_debug_logs": sorted(set(_leak_kinds(sandbox, held, tmp))),
        "time_to_answer": summary_ms([r.seconds for r in results]),
    }


def _leak_kinds(sandbox: SandboxServer, held: list[str], tmp: Path) -> list[str]:
    env = sandbox.env()
    state = sandbox.state
    with state.lock:
        digests = set(state.refresh_tokens) | set(state.codes)
    secrets = KnownSecrets(
        exact={
            "client secret": {env["CDCONNECT_CLIENT_SECRET"]},
            "access or refresh token": set(held),
        },
        issued_digests=digests,
    )
    return [leak.split(": ", 1)[1] for leak in scan_logs(sorted(tmp.glob("*.log")), secrets)]


def run_library(sandbox: SandboxServer, library: str, k: int, backend: str) -> dict[str, Any]:
    sandbox.state.reset()
    with tempfile.TemporaryDirectory(prefix=f"cdconnect-compare-{library}-") as tmp:
        if library == CDCONNECT:
            return run_cdconnect(sandbox, k, backend, Path(tmp))
        return run_with_token_file(sandbox, library, k, Path(tmp))


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"\n{'library':18} {'K':>3} {'refresh calls':>13} {'ok':>3} {'invalid_grant':>13} "
        f"{'resource 200':>12} {'usable after':>14}  secrets in DEBUG logs"
    )
    for r in rows:
        print(
            f"{r['library']:18} {r['workers']:3} {r['refresh_calls']:13} {r['refresh_ok']:3} "
            f"{r['invalid_grant']:13} {r['resource_ok']:12} {r['usable_after']:>14}  "
            f"{', '.join(r['secrets_in_debug_logs']) or 'none'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="8,32", help="K values, comma-separated")
    parser.add_argument("--backend", default="sqlite", help="cdconnect's vault backend")
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument(
        "--revoke-on-reuse",
        action="store_true",
        help="the sandbox revokes a grant whose consumed refresh token is presented again",
    )
    args = parser.parse_args()
    rows = []
    with sandbox_server(args.revoke_on_reuse) as sandbox:
        for k in (int(value) for value in args.workers.split(",")):
            for library in args.libraries.split(","):
                say(f"compare_storm: {library} with {k} worker processes ...")
                rows.append({"library": library, **run_library(sandbox, library, k, args.backend)})
    print_table(rows)
    name = "compare_storm_revoke_on_reuse" if args.revoke_on_reuse else "compare_storm"
    write_result(
        name,
        {
            "setup": {
                "backend": args.backend,
                "revoke_grant_on_reuse": args.revoke_on_reuse,
                "call": "GET /marketplace/v2/listings with an expired token, once per worker",
            },
            "runs": rows,
        },
    )


if __name__ == "__main__":
    main()
