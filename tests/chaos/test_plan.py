"""Trial plans: faults map to the sandbox's switches, the survivor is never a victim."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tests.chaos.plan import (
    MAX_KILLS,
    SURVIVOR,
    Fault,
    FaultKind,
    KillAt,
    balanced_kinds,
    draw_plan,
)


@pytest.mark.parametrize(
    ("fault", "switches"),
    [
        (Fault(FaultKind.NONE), {}),
        (Fault(FaultKind.LATENCY, latency=0.2), {"latency": 0.2}),
        (
            Fault(FaultKind.ERROR_WITH_BODY, error_rate=0.5),
            {"error_rate": 0.5, "error_with_body": True},
        ),
        (
            Fault(FaultKind.ERROR_WITHOUT_BODY, error_rate=0.5),
            {"error_rate": 0.5, "error_with_body": False},
        ),
        (Fault(FaultKind.DROP_AFTER_COMMIT, count=2), {"drop_after_commit": 2}),
        (Fault(FaultKind.HANG_AFTER_COMMIT, count=1), {"hang_after_commit": 1}),
    ],
)
def test_faults_map_to_sandbox_switches(fault: Fault, switches: dict[str, object]) -> None:
    assert fault.switches() == switches


def test_plans_never_kill_the_survivor_and_stay_in_bounds() -> None:
    rng = random.Random(7)
    for number in range(300):
        plan = draw_plan(rng, number, FaultKind.LATENCY)
        assert len(plan.kills) <= MAX_KILLS
        victims = [k.victim for k in plan.kills if k.at is KillAt.DELAY]
        assert SURVIVOR not in victims and len(set(victims)) == len(victims)
        assert all(k.victim is None for k in plan.kills if k.at is KillAt.LEASE_HOLDER)
        # Latency stays below the trials' 1 s read timeout (a timeout is not what it tests).
        assert 0 < plan.fault.latency < 1.0
        assert 1 <= plan.connections <= 2


def test_the_same_seed_draws_the_same_plans() -> None:
    first = [draw_plan(random.Random(3), n, FaultKind.NONE) for n in range(5)]
    again = [draw_plan(random.Random(3), n, FaultKind.NONE) for n in range(5)]
    assert first == again


def test_balanced_kinds_cover_every_fault_evenly() -> None:
    counts = Counter(balanced_kinds(random.Random(1), 200))
    assert set(counts) == set(FaultKind)
    assert max(counts.values()) - min(counts.values()) <= 1
