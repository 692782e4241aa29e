"""One keep-alive cycle: refresh connections before their refresh token's sliding lifetime ends.

CD does not document refresh-token lifetimes; IdentityServer's usual defaults are 15 days
sliding / 30 days absolute, so rotating idle connections every few days keeps them alive. Rows
are picked and leased in one statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so several
workers on several hosts never refresh the same connection twice.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cdconnect.errors import CDConnectError, ReauthorizationRequired
from cdconnect.manager.flow import Outcome

if TYPE_CHECKING:
    from cdconnect.manager.core import ConnectionManager
    from cdconnect.vault.api import ConnectionRow

log = logging.getLogger("cdconnect.keepalive")


@dataclass(frozen=True, slots=True)
class KeepAliveSummary:
    """What one cycle did."""

    claimed: int
    rotated: int
    adopted: int
    reauth_required: int
    failed: int
    seconds: float

    def line(self) -> str:
        return (
            f"claimed={self.claimed} rotated={self.rotated} adopted={self.adopted} "
            f"reauth_required={self.reauth_required} failed={self.failed} "
            f"seconds={self.seconds:.2f}"
        )


def run_keepalive_cycle(
    manager: ConnectionManager,
    *,
    interval: float,
    access_window: float | None,
    batch: int,
    concurrency: int,
) -> KeepAliveSummary:
    started = time.perf_counter()
    clock = manager._clock
    now = clock()
    rows = manager.store.claim_due_for_keepalive(
        owner=manager.owner,
        lease_until=now + manager.settings.lease_seconds,
        refreshed_before=now - interval,
        access_expiring_before=None if access_window is None else now + access_window,
        limit=batch,
        now=now,
    )
    tally: Counter[str] = Counter()
    if rows:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(rows)))) as pool:
            for outcome in pool.map(lambda row: _one(manager, row), rows):
                tally[outcome] += 1
    return KeepAliveSummary(
        claimed=len(rows),
        rotated=tally[Outcome.ROTATED.value],
        adopted=tally[Outcome.ADOPTED.value] + tally[Outcome.STORED.value],
        reauth_required=tally["reauth_required"],
        failed=tally["failed"] + tally[Outcome.DEGRADED.value],
        seconds=time.perf_counter() - started,
    )


def _one(manager: ConnectionManager, row: ConnectionRow) -> str:
    try:
        return manager._rotate_claimed(row).outcome.value
    except ReauthorizationRequired:
        return "reauth_required"
    except CDConnectError as exc:
        log.warning("keep-alive refresh of %r failed: %s", row.external_id, exc.code)
        return "failed"
