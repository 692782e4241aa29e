"""The sandbox's in-memory state: records, counters, fault switches and clock, behind one lock.

The app runs its handlers on one event loop, but tests also read and change the state from other
threads (and uvicorn runs in a background thread), so every access goes through ``lock``.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from cdconnect.sandbox.config import ClientRegistration, SandboxConfig
from cdconnect.sandbox.counters import Counters
from cdconnect.sandbox.faults import Faults
from cdconnect.sandbox.hostile import HOSTILE_GRANT_TYPES, HostileKind, commits_first
from cdconnect.sandbox.records import CodeRecord, GrantRecord, RefreshRecord
from cdconnect.sandbox.signing import SigningKey

Clock = Callable[[], float]


class SandboxState:
    """Everything the sandbox remembers between requests."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        clock: Clock = time.time,
        signing_key: SigningKey | None = None,
    ) -> None:
        self.config = config
        self.signing_key = signing_key or SigningKey.generate()
        self.lock = threading.RLock()
        self._clock = clock
        self._random = random.Random()
        # Redirect URIs registered at run time survive ``reset``: they are configuration that
        # long-lived test fixtures set once, not per-test state.
        self._extra_redirect_uris: dict[str, set[str]] = {}
        self._hang_release = threading.Event()
        self._clear()

    def _clear(self) -> None:
        self.codes: dict[str, CodeRecord] = {}
        self.grants: dict[str, GrantRecord] = {}
        self.refresh_tokens: dict[str, RefreshRecord] = {}
        self.counters = Counters()
        self.faults = Faults()
        self.clock_offset = self.config.clock_offset

    # --- time ---------------------------------------------------------------------------

    def now(self) -> float:
        """The sandbox's current time: the injected clock plus the offset."""
        return self._clock() + self.clock_offset

    def set_clock_offset(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset = seconds

    # --- clients ------------------------------------------------------------------------

    def client(self, client_id: str) -> ClientRegistration | None:
        return self.config.client(client_id)

    def is_registered_redirect(self, client: ClientRegistration, redirect_uri: str) -> bool:
        """Exact (byte-for-byte) match against the client's registered redirect URIs."""
        if redirect_uri in client.redirect_uris:
            return True
        with self.lock:
            return redirect_uri in self._extra_redirect_uris.get(client.client_id, set())

    def add_redirect_uri(self, client_id: str, redirect_uri: str) -> None:
        if self.client(client_id) is None:
            raise KeyError(client_id)
        with self.lock:
            self._extra_redirect_uris.setdefault(client_id, set()).add(redirect_uri)

    def redirect_uris(self, client: ClientRegistration) -> list[str]:
        with self.lock:
            extra = sorted(self._extra_redirect_uris.get(client.client_id, set()))
        return [*client.redirect_uris, *extra]

    # --- faults -------------------------------------------------------------------------

    def update_faults(self, changes: dict[str, Any]) -> Faults:
        with self.lock:
            self.faults = self.faults.updated(changes)
            return self.faults

    def roll_for_5xx(self) -> bool:
        """Whether this token request is one of the ``error_rate`` share answered with a 5xx."""
        with self.lock:
            rate = self.faults.error_rate
            return rate > 0 and self._random.random() < rate

    def claim_after_commit_fault(self) -> str | None:
        """Take one ``drop`` or ``hang`` from the switches, if any are left. Call with the lock
        held, in the same critical section that commits the refresh."""
        faults = self.faults
        if faults.drop_after_commit > 0:
            self.faults = dataclasses.replace(
                faults, drop_after_commit=faults.drop_after_commit - 1
            )
            return "drop"
        if faults.hang_after_commit > 0:
            self.faults = dataclasses.replace(
                faults, hang_after_commit=faults.hang_after_commit - 1
            )
            return "hang"
        return None

    def claim_hostile_answer(self, grant_type: str, *, committed: bool) -> HostileKind | None:
        """Take one hostile answer from the switches for a ``grant_type`` request, if one is
        left and its kind answers at this stage: before the grant runs (``committed=False``) or
        after it committed (``committed=True``)."""
        with self.lock:
            faults = self.faults
            if faults.hostile is None or faults.hostile_count <= 0:
                return None
            kind = HostileKind(faults.hostile)
            if grant_type not in HOSTILE_GRANT_TYPES:
                return None
            if commits_first(kind, faults.hostile_commit) != committed:
                return None
            self.faults = dataclasses.replace(faults, hostile_count=faults.hostile_count - 1)
            return kind

    def hang_release(self) -> threading.Event:
        """The event that ends the hangs started from now on (set by reset and shutdown)."""
        with self.lock:
            return self._hang_release

    def release_hangs(self) -> None:
        """Let every hanging request finish (by cutting its connection)."""
        with self.lock:
            self._hang_release.set()
            self._hang_release = threading.Event()

    # --- grants -------------------------------------------------------------------------

    def revoke_grant(self, grant_id: str, reason: str) -> bool:
        """Revoke one grant; its refresh tokens stop working. False if unknown or revoked."""
        with self.lock:
            grant = self.grants.get(grant_id)
            if grant is None or grant.revoked_reason is not None:
                return False
            self.grants[grant_id] = dataclasses.replace(grant, revoked_reason=reason)
            return True

    def revoke_account(self, email: str, reason: str = "account_revoked") -> int:
        """Revoke every grant of an account (what a password change does). Returns how many."""
        wanted = email.strip().casefold()
        with self.lock:
            ids = [g.grant_id for g in self.grants.values() if g.account_email.casefold() == wanted]
            return sum(self.revoke_grant(grant_id, reason) for grant_id in ids)

    def grants_json(self) -> list[dict[str, Any]]:
        with self.lock:
            grants = list(self.grants.values())
        return [
            {
                "grant_id": g.grant_id,
                "client_id": g.client_id,
                "account": g.account_email,
                "scope": " ".join(g.scope),
                "created_at": g.created_at,
                "rotations": g.rotations,
                "has_refresh_token": g.current_refresh is not None,
                "revoked": g.revoked_reason is not None,
                "revoked_reason": g.revoked_reason,
            }
            for g in grants
        ]

    # --- resets -------------------------------------------------------------------------

    def reset_counters(self) -> None:
        with self.lock:
            self.counters = Counters()

    def reset(self) -> None:
        """Forget every code, grant and token; zero the counters; switch faults off; restore
        the configured clock offset; release hanging requests."""
        with self.lock:
            self._clear()
        self.release_hangs()
