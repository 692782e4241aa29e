"""Races on one row: threads, spawned processes and concurrent keep-alive claimers.

Invariant: exactly one lease winner per generation, and no keep-alive row handed out twice.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from cdconnect.vault import ConnectionRow, KeyRing, SqlStore
from cdconnect.vault.schema import connections
from tests.fixtures.databases import VaultTarget, fresh_postgres_schema
from tests.vault.helpers import NOW, new_tokens, raw_connection
from tests.vault.workers import lease_race

THREADS = 12
ROUNDS = 4
PROCESSES = 4


def test_threads_racing_for_the_lease_have_one_winner_per_generation(store: SqlStore) -> None:
    row = store.save_connected("race", new_tokens(), now=NOW)
    for generation in range(1, ROUNDS + 1):
        barrier = threading.Barrier(THREADS)

        def attempt(
            index: int, generation: int = generation, barrier: threading.Barrier = barrier
        ) -> bool:
            barrier.wait(timeout=60)
            return store.try_acquire_lease(
                row.id, generation=generation, owner=f"t{index}", until=NOW + 30, now=NOW
            )

        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            outcomes = list(pool.map(attempt, range(THREADS)))
        assert outcomes.count(True) == 1
        winner = f"t{outcomes.index(True)}"
        current = store.get_connection("race")
        assert current is not None and current.lease_owner == winner
        assert store.store_rotation(row.id, generation=generation, tokens=new_tokens(), now=NOW)
    final = store.get_connection("race")
    assert final is not None and final.generation == ROUNDS + 1


@pytest.mark.slow
def test_processes_racing_for_the_lease_have_one_winner_per_generation(
    vault_target: VaultTarget,
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results: multiprocessing.Queue[tuple[str, int, int, bool] | tuple[str, str]] = context.Queue()
    workers = [
        context.Process(
            target=lease_race, args=(vault_target, f"p{index}", ROUNDS, barrier, results)
        )
        for index in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    reports = []
    try:
        for _ in range(PROCESSES * ROUNDS):
            report = results.get(timeout=120)
            assert len(report) == 4, f"worker failed:\n{report[1]}"
            reports.append(report)
    finally:
        for worker in workers:
            worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES

    for round_number in range(ROUNDS):
        this_round = [report for report in reports if report[1] == round_number]
        assert {report[2] for report in this_round} == {round_number + 1}
        assert [report[3] for report in this_round].count(True) == 1
    with raw_connection(vault_target.database_url) as conn:
        generation = conn.execute(select(connections.c.generation)).scalar_one()
    assert generation == ROUNDS + 1


def _make_due(store: SqlStore, count: int) -> set[str]:
    rows = [
        store.save_connected(f"due-{i:03d}", new_tokens(), now=NOW - 10_000) for i in range(count)
    ]
    return {row.id for row in rows}


def _claim(store: SqlStore, owner: str, limit: int) -> list[ConnectionRow]:
    return store.claim_due_for_keepalive(
        owner=owner,
        lease_until=NOW + 300,
        refreshed_before=NOW - 5_000,
        access_expiring_before=None,
        limit=limit,
        now=NOW,
    )


def test_concurrent_keepalive_claimers_never_share_a_row(
    store: SqlStore, database_url: str, keyring: KeyRing
) -> None:
    due = _make_due(store, 40)
    other = SqlStore.open(database_url, keyring)  # a second worker: its own pool
    claimed: queue.Queue[tuple[str, str]] = queue.Queue()

    def claimer(worker: SqlStore, owner: str) -> None:
        while batch := _claim(worker, owner, 3):
            for row in batch:
                assert row.lease_owner == owner
                claimed.put((row.id, owner))

    try:
        threads = [
            threading.Thread(target=claimer, args=(worker, f"{name}-{n}"))
            for n in range(3)
            for name, worker in (("a", store), ("b", other))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
    # Rows skipped while another claimer held them are swept up afterwards.
    for row in _claim(store, "sweeper", 100):
        claimed.put((row.id, "sweeper"))
    ids = [item[0] for item in list(claimed.queue)]
    assert Counter(ids).most_common(1)[0][1] == 1
    assert set(ids) == due


@pytest.mark.postgres
def test_postgres_claim_skips_rows_locked_by_another_connection(
    postgres_url: str, keyring: KeyRing
) -> None:
    with fresh_postgres_schema(postgres_url) as url:
        store = SqlStore.open(url, keyring)
        try:
            due = _make_due(store, 4)
            with raw_connection(url) as blocker:
                locked = (
                    blocker.execute(
                        select(connections.c.id)
                        .order_by(connections.c.id)
                        .limit(2)
                        .with_for_update()
                    )
                    .scalars()
                    .all()
                )
                # Another transaction holds two rows: the claim neither waits nor takes them.
                picked = {row.id for row in _claim(store, "w", 10)}
                assert picked == due - set(locked)
            assert {row.id for row in _claim(store, "w2", 10)} == set(locked)
        finally:
            store.close()
