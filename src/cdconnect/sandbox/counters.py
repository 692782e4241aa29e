"""What the sandbox counts, so tests can assert on how a client behaved (not just on results)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

#: Grant-type key used when a token request had no (or an unsupported) ``grant_type``.
OTHER_GRANT = "other"


class Counters:
    """Token-endpoint calls by grant type and outcome, replays, and rotations per grant.

    Not thread-safe by itself: ``SandboxState`` guards it with its lock.
    """

    def __init__(self) -> None:
        self.token_calls: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.revocation_calls: Counter[str] = Counter()
        self.refresh_reuse = 0
        self.code_reuse = 0
        self.refreshes_by_grant: Counter[str] = Counter()

    def token_call(self, grant_type: str, outcome: str) -> None:
        """Count one token-endpoint answer (``ok``, an OAuth error code, ``fault_5xx``,
        ``dropped``, ``hung`` or ``hostile``)."""
        self.token_calls[grant_type][outcome] += 1

    def as_json(self) -> dict[str, Any]:
        """A snapshot as plain JSON-able dicts."""
        return {
            "token_calls": {grant: dict(outcomes) for grant, outcomes in self.token_calls.items()},
            "revocation_calls": dict(self.revocation_calls),
            "refresh_reuse": self.refresh_reuse,
            "code_reuse": self.code_reuse,
            "refreshes_by_grant": dict(self.refreshes_by_grant),
        }
