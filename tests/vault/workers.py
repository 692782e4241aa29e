"""Code run in spawned subprocesses by the concurrency tests (must be importable by name)."""

from __future__ import annotations

import traceback
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier

from tests.fixtures.databases import VaultTarget
from tests.vault.helpers import NOW, new_tokens

RACE_EXTERNAL_ID = "race"
BARRIER_TIMEOUT = 60.0


def lease_race(
    target: VaultTarget,
    name: str,
    rounds: int,
    barrier: Barrier,
    results: Queue[tuple[str, int, int, bool] | tuple[str, str]],
) -> None:
    """Open the (fresh) vault, then race the other processes for the lease, round by round.

    Every process opens with ``migrate=True`` at the same moment, so the first open of an empty
    database is contended too. Reports ``(name, round, generation_seen, won)`` per round.
    """
    try:
        barrier.wait(BARRIER_TIMEOUT)
        store = target.open_store(migrate=True)
        barrier.wait(BARRIER_TIMEOUT)
        if name == "p0":
            store.save_connected(RACE_EXTERNAL_ID, new_tokens("race"), now=NOW)
        barrier.wait(BARRIER_TIMEOUT)
        for round_number in range(rounds):
            row = store.get_connection(RACE_EXTERNAL_ID)
            assert row is not None
            barrier.wait(BARRIER_TIMEOUT)
            won = store.try_acquire_lease(
                row.id, generation=row.generation, owner=name, until=NOW + 30, now=NOW
            )
            barrier.wait(BARRIER_TIMEOUT)
            if won:
                rotated = store.store_rotation(
                    row.id, generation=row.generation, tokens=new_tokens(name), now=NOW
                )
                assert rotated, "the lease winner was fenced out"
            results.put((name, round_number, row.generation, won))
            barrier.wait(BARRIER_TIMEOUT)
        store.close()
    except BaseException:
        results.put((name, traceback.format_exc()))
        barrier.abort()
        raise
