"""Chaos at CI scale: a few random trials per sandbox fault per backend, every invariant checked.

Each trial connects one or two customers, lets three worker processes (two threads each) refresh
them at once — expired clocks or forced refreshes — under a random sandbox fault, SIGKILLs some
workers at random points (some while they hold the refresh lease, most likely mid-request), then
switches the faults off and lets the surviving worker resolve every connection. See
``tests/chaos/invariants.py`` for what must hold and docs/reliability.md for the method.
``bench/chaos.py`` runs the same trials by the hundred.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from tests.chaos.facts import TrialFacts
from tests.chaos.invariants import violations
from tests.chaos.plan import Fault, FaultKind, Kill, KillAt, draw_plan
from tests.chaos.trial import TrialEnv, run_trial

pytestmark = pytest.mark.slow

TRIALS_PER_KIND = 2
ERROR_KINDS = (FaultKind.ERROR_WITH_BODY, FaultKind.ERROR_WITHOUT_BODY)


def _trials(env: TrialEnv, rng: random.Random, kind: FaultKind) -> list[TrialFacts]:
    results = []
    for number in range(TRIALS_PER_KIND):
        plan = draw_plan(rng, number, kind)
        if number == 0:
            # Always include the nastiest kill, the lease holder (most likely mid-request), and
            # a plain one that cannot miss (a lease can be over before the watcher sees it).
            kills = (Kill(KillAt.LEASE_HOLDER, 0.02), Kill(KillAt.DELAY, 0.5, victim=2))
            plan = dataclasses.replace(plan, kills=kills)
            if kind in ERROR_KINDS:
                # A total outage: the fault cannot miss, however few requests the storm makes.
                plan = dataclasses.replace(plan, fault=Fault(kind, error_rate=1.0))
        results.append(run_trial(env, plan))
    return results


@pytest.mark.parametrize("kind", list(FaultKind), ids=str)
def test_trials_keep_every_invariant(chaos_env: TrialEnv, chaos_seed: int, kind: FaultKind) -> None:
    trials = _trials(chaos_env, random.Random(chaos_seed), kind)
    failures = [f"{t.plan.describe()}: {v}" for t in trials for v in violations(t)]
    assert not failures, f"CDCONNECT_CHAOS_SEED={chaos_seed}\n" + "\n".join(failures)
    # The fault really struck (otherwise the trial proved nothing about it).
    sandbox = [t.sandbox for t in trials]
    if kind is FaultKind.DROP_AFTER_COMMIT:
        assert sum(s.dropped for s in sandbox) >= 1
    elif kind is FaultKind.HANG_AFTER_COMMIT:
        assert sum(s.hung for s in sandbox) >= 1
    elif kind in ERROR_KINDS:
        assert sum(s.fault_5xx for s in sandbox) >= 1
    assert sum(t.kills for t in trials) >= 1
