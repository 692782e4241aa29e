"""What a chaos trial observed: plain values, so the invariants are pure functions of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tests.chaos.messages import Resolution
from tests.chaos.plan import TrialPlan


@dataclass(frozen=True, slots=True)
class ConnectionFacts:
    """One connection at the end of a trial (after the survivor resolved it)."""

    external_id: str
    generation_before: int
    generation_after: int
    #: Rotations the sandbox committed for this connection's grant (including dropped/hung).
    rotations: int
    status: str
    reason: str | None
    #: The stored refresh token is the grant's current, unconsumed one and the grant is alive.
    chain_current: bool
    #: HTTP status of the listings resource called with the stored access token (None: no call).
    resource_status: int | None
    survivor: Resolution

    @property
    def advance(self) -> int:
        return self.generation_after - self.generation_before

    @property
    def unstored_rotations(self) -> int:
        """Rotations the sandbox committed whose result never reached the store."""
        return self.rotations - self.advance


@dataclass(frozen=True, slots=True)
class SandboxFacts:
    """The sandbox's refresh counters for the trial (docs/sandbox.md, "Counters")."""

    ok: int = 0
    dropped: int = 0
    hung: int = 0
    invalid_grant: int = 0
    fault_5xx: int = 0
    reuse: int = 0


@dataclass(frozen=True, slots=True)
class TrialFacts:
    plan: TrialPlan
    connections: tuple[ConnectionFacts, ...]
    sandbox: SandboxFacts
    #: Workers that SIGKILL ended.
    kills: int
    #: Token requests the workers saw time out while reading the answer (from their logs).
    read_timeouts: int
    #: Documented ``CDConnectError``s the workers' calls raised, by class name.
    worker_errors: Mapping[str, int] = field(default_factory=dict)
    #: Anything else the workers raised (type and traceback), or a worker that died on its own.
    unexpected: tuple[str, ...] = ()
    #: Where a secret showed up in a log (never the secret itself).
    leaks: tuple[str, ...] = ()

    @property
    def lost_rotations(self) -> int:
        return sum(c.unstored_rotations for c in self.connections)

    @property
    def answered_but_unstored(self) -> int:
        """Lost rotations the sandbox answered with 200: the answer died in the client."""
        return self.lost_rotations - self.sandbox.dropped - self.sandbox.hung
