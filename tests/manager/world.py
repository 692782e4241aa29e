"""An in-memory world that carries out refresh-flow effects, for pure tests of the algorithm.

The flow's effects are its boundary with storage and the network; this interpreter plays both
sides with the store's documented semantics (conditional lease, generation fence), and records
what the flow asked for so tests can check the invariants.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from cdconnect.errors import TokenEndpointError
from cdconnect.manager.effects import (
    AcquireLease,
    Effect,
    MarkReauth,
    ReadRow,
    RecordFailure,
    ReleaseLease,
    RenewLease,
    SendRefresh,
    Sleep,
    StoreRotation,
)
from cdconnect.manager.flow import FlowGen, FlowResult, RefreshPolicy
from cdconnect.models import ConnectionStatus, TokenResponse
from cdconnect.vault.api import ConnectionRow

ME = "me"
NOW = 1_000_000.0
POLICY = RefreshPolicy(margin=60, lease_seconds=30, wait_budget=60)

Outcome = TokenResponse | TokenEndpointError


def make_row(**changes: Any) -> ConnectionRow:
    base = ConnectionRow(
        id="c1",
        external_id="acme",
        status=ConnectionStatus.ACTIVE,
        scope=("marketplace", "offline_access"),
        generation=1,
        lease_owner=None,
        lease_until=None,
        access_token=SecretStr("access-1"),
        access_expires_at=NOW - 10,
        refresh_token=SecretStr("refresh-1"),
        last_refresh_at=None,
        failure_count=0,
        last_error=None,
        reauth_reason=None,
        created_at=NOW - 100,
        updated_at=NOW - 100,
    )
    return dataclasses.replace(base, **changes)


def token_response(n: int, *, expires_in: int = 3600, refresh: bool = True) -> TokenResponse:
    return TokenResponse(
        access_token=SecretStr(f"access-{n}"),
        token_type="Bearer",
        expires_in=expires_in,
        expires_at=NOW + expires_in,
        refresh_token=SecretStr(f"refresh-{n}") if refresh else None,
        scope=("marketplace", "offline_access"),
    )


@dataclass
class World:
    row: ConnectionRow | None
    outcomes: list[Outcome] = field(default_factory=list)
    now: float = NOW
    #: Called on every ReadRow before answering: lets a test play another worker.
    on_read: Callable[[World], None] | None = None
    #: Called when the flow sends a refresh, before the outcome is returned.
    on_send: Callable[[World], None] | None = None
    log: list[Effect] = field(default_factory=list)
    sent_with: list[str] = field(default_factory=list)
    reads: int = 0

    def clock(self) -> float:
        return self.now

    def run(self, flow: FlowGen) -> FlowResult:
        value: Any = None
        error: TokenEndpointError | None = None
        while True:
            try:
                effect = flow.send(value) if error is None else flow.throw(error)
            except StopIteration as stop:
                result: FlowResult = stop.value
                return result
            self.log.append(effect)
            value, error = None, None
            try:
                value = self.perform(effect)
            except TokenEndpointError as exc:
                error = exc

    def perform(self, effect: Effect) -> Any:
        match effect:
            case ReadRow():
                self.reads += 1
                if self.on_read is not None:
                    self.on_read(self)
                return self.row
            case AcquireLease(_, generation, until):
                return self._acquire(generation, until)
            case RenewLease(_, until):
                assert self.row is not None
                if self.row.lease_owner != ME:
                    return False
                self.row = dataclasses.replace(self.row, lease_until=until)
                return True
            case ReleaseLease():
                self._release()
                return None
            case SendRefresh(refresh_token):
                return self._send(refresh_token)
            case StoreRotation(_, _, generation, tokens):
                assert self.row is not None
                if self.row.generation != generation:
                    return False
                self.row = dataclasses.replace(
                    self.row,
                    generation=generation + 1,
                    access_token=tokens.access_token,
                    access_expires_at=tokens.access_expires_at,
                    refresh_token=tokens.refresh_token or self.row.refresh_token,
                    lease_owner=None,
                    lease_until=None,
                    failure_count=0,
                )
                return True
            case RecordFailure(_, error):
                assert self.row is not None
                self.row = dataclasses.replace(
                    self.row, failure_count=self.row.failure_count + 1, last_error=error
                )
                self._release()
                return None
            case MarkReauth(_, _, generation, reason, _):
                assert self.row is not None
                if self.row.generation != generation:
                    return False
                self.row = dataclasses.replace(
                    self.row,
                    status=ConnectionStatus.REAUTH_REQUIRED,
                    reauth_reason=reason,
                    lease_owner=None,
                    lease_until=None,
                )
                return True
            case Sleep(seconds):
                self.now += seconds
                return None
        raise AssertionError(f"unexpected effect {effect!r}")

    def _acquire(self, generation: int, until: float) -> bool:
        row = self.row
        assert row is not None
        lease_free = row.lease_owner is None or (row.lease_until or 0) <= self.now
        if row.generation != generation or not lease_free:
            return False
        self.row = dataclasses.replace(row, lease_owner=ME, lease_until=until)
        return True

    def _release(self) -> None:
        assert self.row is not None
        if self.row.lease_owner == ME:
            self.row = dataclasses.replace(self.row, lease_owner=None, lease_until=None)

    def _send(self, refresh_token: SecretStr) -> TokenResponse:
        row = self.row
        assert row is not None
        # The invariant of the whole design: only the lease holder presents a refresh token.
        assert row.lease_owner == ME, "refresh sent without holding the lease"
        self.sent_with.append(refresh_token.get_secret_value())
        if self.on_send is not None:
            self.on_send(self)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, TokenEndpointError):
            raise outcome
        return outcome

    def rotated_elsewhere(self, label: str) -> None:
        """Another worker stores a rotation: next generation, fresh tokens, lease cleared."""
        assert self.row is not None
        self.row = dataclasses.replace(
            self.row,
            generation=self.row.generation + 1,
            access_token=SecretStr(f"access-{label}"),
            access_expires_at=self.now + 3600,
            refresh_token=SecretStr(f"refresh-{label}"),
            lease_owner=None,
            lease_until=None,
        )

    def sends(self) -> int:
        return sum(isinstance(effect, SendRefresh) for effect in self.log)

    def marked(self) -> list[MarkReauth]:
        return [effect for effect in self.log if isinstance(effect, MarkReauth)]
