"""Counts over many trials, per fault kind: what ``bench/chaos.py`` prints and writes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.facts import TrialFacts
from tests.chaos.invariants import ACTIVE, OK, violations


@dataclass
class KindTally:
    trials: int = 0
    connections: int = 0
    usable: int = 0
    reauth_required: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    dropped: int = 0
    hung: int = 0
    answered_but_unstored: int = 0
    read_timeouts: int = 0
    refresh_ok: int = 0
    fault_5xx: int = 0
    replays: int = 0
    worker_errors: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)

    def add(self, facts: TrialFacts) -> None:
        self.trials += 1
        self.connections += len(facts.connections)
        for connection in facts.connections:
            if connection.status == ACTIVE:
                if connection.resource_status == OK and connection.chain_current:
                    self.usable += 1
            else:
                self.reauth_required[connection.reason or "(none)"] += 1
        self.kills += facts.kills
        self.dropped += facts.sandbox.dropped
        self.hung += facts.sandbox.hung
        self.answered_but_unstored += max(0, facts.answered_but_unstored)
        self.read_timeouts += facts.read_timeouts
        self.refresh_ok += facts.sandbox.ok
        self.fault_5xx += facts.sandbox.fault_5xx
        self.replays += facts.sandbox.reuse
        self.worker_errors.update(facts.worker_errors)
        self.violations += [f"{facts.plan.describe()}: {v}" for v in violations(facts)]

    def as_json(self) -> dict[str, Any]:
        return {
            "trials": self.trials,
            "connections": self.connections,
            "usable": self.usable,
            "reauth_required": dict(self.reauth_required),
            "kills": self.kills,
            "lost_rotations": {
                "dropped": self.dropped,
                "hung": self.hung,
                "answered_but_unstored": self.answered_but_unstored,
            },
            "client_read_timeouts": self.read_timeouts,
            "sandbox_refresh_ok": self.refresh_ok,
            "sandbox_fault_5xx": self.fault_5xx,
            "refresh_token_replays": self.replays,
            "worker_errors": dict(self.worker_errors),
            "violations": len(self.violations),
        }


def tally(trials: Iterable[TrialFacts]) -> dict[str, KindTally]:
    """Per fault kind (in the order first seen), plus ``"all"``."""
    kinds: dict[str, KindTally] = {}
    overall = KindTally()
    for facts in trials:
        kinds.setdefault(facts.plan.fault.kind.value, KindTally()).add(facts)
        overall.add(facts)
    return {**kinds, "all": overall}
