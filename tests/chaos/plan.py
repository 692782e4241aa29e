"""What one chaos trial does: its sandbox fault, how the workers refresh, whom to kill and when.

Plans are pure values drawn from a seeded ``random.Random``, so a failing trial can be described
(and roughly replayed: the timing of processes is never exactly reproducible) from its seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

#: Worker processes per trial, and the most of them a trial kills.
WORKERS = 3
MAX_KILLS = 2
#: Worker 0 is never killed: it is the survivor that resolves every connection afterwards.
SURVIVOR = 0


class FaultKind(StrEnum):
    """The sandbox misbehaviour a trial runs under (docs/sandbox.md, "Fault switches")."""

    NONE = "none"
    LATENCY = "latency"
    ERROR_WITH_BODY = "5xx_with_body"
    ERROR_WITHOUT_BODY = "5xx_without_body"
    DROP_AFTER_COMMIT = "drop_after_commit"
    HANG_AFTER_COMMIT = "hang_after_commit"


class RefreshMode(StrEnum):
    """How the workers make the connection refresh."""

    #: The workers' clocks run an hour ahead, so every stored access token has expired.
    EXPIRED = "expired"
    #: Every call is ``refresh(force=True)`` (what a caller does after a 401), real clock.
    FORCE = "force"


class KillAt(StrEnum):
    """When a worker is killed with SIGKILL."""

    #: A fixed victim, a random delay after the start signal (it may be idle or mid-request).
    DELAY = "delay"
    #: Whichever killable worker first holds a refresh lease, a random delay after it took it:
    #: most likely while its refresh request is in flight.
    LEASE_HOLDER = "lease_holder"


@dataclass(frozen=True, slots=True)
class Kill:
    at: KillAt
    delay: float
    #: The worker index for ``DELAY``; None for ``LEASE_HOLDER`` (chosen when the lease is seen).
    victim: int | None = None


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    latency: float = 0.0
    error_rate: float = 0.0
    #: How many committed refreshes are dropped or hung.
    count: int = 0

    def switches(self) -> dict[str, Any]:
        """Keyword arguments for ``SandboxControl.set_faults``."""
        if self.kind is FaultKind.LATENCY:
            return {"latency": self.latency}
        if self.kind is FaultKind.ERROR_WITH_BODY:
            return {"error_rate": self.error_rate, "error_with_body": True}
        if self.kind is FaultKind.ERROR_WITHOUT_BODY:
            return {"error_rate": self.error_rate, "error_with_body": False}
        if self.kind is FaultKind.DROP_AFTER_COMMIT:
            return {"drop_after_commit": self.count}
        if self.kind is FaultKind.HANG_AFTER_COMMIT:
            return {"hang_after_commit": self.count}
        return {}


#: Every switch off: what the survivor resolves under.
FAULTS_OFF: dict[str, Any] = {
    "latency": 0.0,
    "error_rate": 0.0,
    "error_with_body": True,
    "drop_after_commit": 0,
    "hang_after_commit": 0,
}


@dataclass(frozen=True, slots=True)
class TrialPlan:
    number: int
    seed: int
    fault: Fault
    mode: RefreshMode
    connections: int
    workers: int
    threads: int
    rounds: int
    kills: tuple[Kill, ...]

    def describe(self) -> str:
        kills = ", ".join(
            f"{k.at.value}{'' if k.victim is None else f' w{k.victim}'} +{k.delay:.2f}s"
            for k in self.kills
        )
        return (
            f"trial {self.number} (seed {self.seed}): fault={self.fault}, mode={self.mode.value}, "
            f"connections={self.connections}, workers={self.workers}x{self.threads} threads, "
            f"rounds={self.rounds}, kills=[{kills}]"
        )


def draw_fault(rng: random.Random, kind: FaultKind, connections: int) -> Fault:
    """Random parameters for ``kind``.

    Latency stays well below the read timeout the trials use (1 s): it widens the window in
    which a kill lands mid-request without turning every answer into a timeout.
    """
    if kind is FaultKind.LATENCY:
        return Fault(kind, latency=round(rng.uniform(0.05, 0.4), 3))
    if kind in (FaultKind.ERROR_WITH_BODY, FaultKind.ERROR_WITHOUT_BODY):
        return Fault(kind, error_rate=round(rng.uniform(0.3, 0.8), 2))
    if kind in (FaultKind.DROP_AFTER_COMMIT, FaultKind.HANG_AFTER_COMMIT):
        return Fault(kind, count=rng.randint(1, connections))
    return Fault(kind)


def draw_kills(rng: random.Random, workers: int) -> tuple[Kill, ...]:
    """None, one or two kills among the killable workers (never the survivor)."""
    killable = list(range(SURVIVOR + 1, workers))
    count = min(len(killable), MAX_KILLS, rng.choice((0, 1, 1, 2)))
    victims = rng.sample(killable, count)
    kills = []
    for victim in victims:
        if rng.random() < 0.5:
            kills.append(Kill(KillAt.LEASE_HOLDER, round(rng.uniform(0.0, 0.3), 3)))
        else:
            kills.append(Kill(KillAt.DELAY, round(rng.uniform(0.0, 1.0), 3), victim))
    return tuple(kills)


def draw_plan(
    rng: random.Random, number: int, kind: FaultKind, *, workers: int = WORKERS, threads: int = 2
) -> TrialPlan:
    """A random trial under fault ``kind``; ``rng`` decides everything else."""
    seed = rng.randrange(2**32)
    own = random.Random(seed)
    connections = own.choice((1, 1, 2))
    mode = own.choice((RefreshMode.EXPIRED, RefreshMode.FORCE))
    return TrialPlan(
        number=number,
        seed=seed,
        fault=draw_fault(own, kind, connections),
        mode=mode,
        connections=connections,
        workers=workers,
        threads=threads,
        rounds=2 if mode is RefreshMode.EXPIRED else 1,
        kills=draw_kills(own, workers),
    )


def balanced_kinds(rng: random.Random, trials: int) -> list[FaultKind]:
    """``trials`` fault kinds in random order, each kind as often as the others (±1)."""
    kinds = list(FaultKind)
    schedule = [kinds[i % len(kinds)] for i in range(trials)]
    rng.shuffle(schedule)
    return schedule
