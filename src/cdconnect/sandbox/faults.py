"""Fault switches: how the sandbox misbehaves on purpose, so clients can be tested against it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from cdconnect.sandbox.hostile import HOSTILE_KINDS


@dataclass(frozen=True, slots=True)
class Faults:
    """The current fault switches (all off by default)."""

    #: Seconds added to every token-endpoint answer (after the request was processed).
    latency: float = 0.0
    #: Share (0..1) of token requests answered with a 5xx before anything is processed.
    error_rate: float = 0.0
    #: 5xx flavour: 503 with an OAuth ``temporarily_unavailable`` body, or a bare 502 HTML page.
    error_with_body: bool = True
    #: The next N successful refreshes are committed, then the connection is cut mid-answer.
    drop_after_commit: int = 0
    #: The next N successful refreshes are committed, then never answered.
    hang_after_commit: int = 0
    #: When set, logins grant this space-delimited scope instead of the requested one (CD's
    #: documented example grants a different scope than it was asked for).
    granted_scope: str | None = None
    #: A ``HostileKind`` name: how the next ``hostile_count`` refreshes and code exchanges are
    #: answered instead of with their tokens (see ``hostile.py``).
    hostile: str | None = None
    #: How many hostile answers are left; each one used counts down.
    hostile_count: int = 0
    #: Commit the grant before the hostile answer (True) or answer before anything is consumed
    #: (False); None follows the kind's documented default.
    hostile_commit: bool | None = None

    def updated(self, changes: dict[str, Any]) -> Faults:
        """A copy with ``changes`` applied, after checking their ranges."""
        updated = dataclasses.replace(self, **changes)
        problems = updated.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return updated

    def problems(self) -> list[str]:
        """What is out of range, one line per problem."""
        problems = []
        if self.latency < 0:
            problems.append("latency must be >= 0")
        if not 0.0 <= self.error_rate <= 1.0:
            problems.append("error_rate must be between 0 and 1")
        if self.drop_after_commit < 0 or self.hang_after_commit < 0:
            problems.append("drop_after_commit and hang_after_commit must be >= 0")
        if self.granted_scope is not None and not self.granted_scope.split():
            problems.append("granted_scope must name at least one scope")
        if self.hostile is not None and self.hostile not in HOSTILE_KINDS:
            problems.append(f"hostile must be one of: {', '.join(sorted(HOSTILE_KINDS))}")
        if self.hostile_count < 0:
            problems.append("hostile_count must be >= 0")
        elif self.hostile_count > 0 and self.hostile is None:
            problems.append("hostile_count needs a hostile kind")
        return problems

    def as_json(self) -> dict[str, Any]:
        """The switches as a JSON object."""
        return dataclasses.asdict(self)
