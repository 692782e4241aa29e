"""The guided tour behind ``cdconnect demo``: the real library against a real local sandbox.

Everything runs for real: an HTTPS sandbox with its own test CA, a temporary encrypted SQLite
vault, the authorize → login page → callback → code exchange flow, a fenced refresh with a rotated
refresh token, an authenticated API call and a revoked grant. :func:`run_demo` yields one
:class:`DemoStep` per stage for a face to render, and removes everything when it finishes (or is
closed early). Secrets are shown only abbreviated or as SHA-256 fingerprints.
"""

from __future__ import annotations

import tempfile
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import SecretStr

from cdconnect.errors import ReauthorizationRequired
from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.models import Connection, Event
from cdconnect.sandbox import (
    BROKER_EMAIL,
    CARRIER_EMAIL,
    SandboxServer,
    default_config,
)
from cdconnect.settings import Settings
from cdconnect.testing import OffsetClock, connect_test_customer, sandbox_settings
from cdconnect.vault import KeyRing

BROKER_ID = "acme-logistics"
CARRIER_ID = "roadrunner-carriers"
CUSTOMERS = ((BROKER_ID, BROKER_EMAIL), (CARRIER_ID, CARRIER_EMAIL))
LISTINGS_PATH = "/marketplace/v2/listings?limit(1,3)"
LISTINGS_MEDIA_TYPE = "application/vnd.coxauto.v2+json"


@dataclass(frozen=True, slots=True)
class DemoStep:
    """One stage of the demo: a title, what happened, and (at the end) the connections."""

    title: str
    lines: tuple[str, ...] = ()
    connections: tuple[Connection, ...] = ()
    #: The demo's own "now" (its clock runs ahead of real time after the expiry step).
    as_of: float | None = None


@dataclass
class EventLog:
    """Collects the manager's events and hands them out once, one line each."""

    pending: list[Event] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        self.pending.append(event)

    def drain(self) -> tuple[str, ...]:
        lines = tuple(_event_line(event) for event in self.pending)
        self.pending.clear()
        return lines


def _event_line(event: Event) -> str:
    details = ", ".join(f"{key}={value}" for key, value in sorted(event.data.items()))
    return f"event {event.type.value} ({event.external_id}{': ' + details if details else ''})"


def abbreviate(secret: SecretStr, keep: int = 12) -> str:
    return secret.get_secret_value()[:keep] + "…"


def demo_settings(sandbox: SandboxServer, workdir: Path) -> Settings:
    """Settings for the sandbox and a vault in ``workdir``, immune to the caller's environment
    (a ``CDCONNECT_*`` variable must never send the demo's requests somewhere else)."""
    return sandbox_settings(
        sandbox,
        data_dir=workdir / "data",
        encryption_keys=KeyRing.generate("demo").export(),
    )


def run_demo() -> Generator[DemoStep, None, None]:
    """Run the demo, yielding each step; all resources are gone when the iterator ends."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cdconnect-demo-")))
        sandbox = stack.enter_context(SandboxServer(default_config()))
        yield DemoStep(
            "Started the Central Dispatch sandbox",
            (
                f"issuer {sandbox.issuer} (HTTPS with a throw-away test CA)",
                "test accounts: " + ", ".join(a.email for a in sandbox.config.accounts),
            ),
        )
        settings = demo_settings(sandbox, workdir)
        clock = OffsetClock()
        manager = stack.enter_context(open_manager(settings, clock=clock))
        events = EventLog()
        manager.on_event(events)
        yield DemoStep(
            "Created a temporary vault",
            (
                f"SQLite {settings.effective_database_url.removeprefix('sqlite:///')}",
                "tokens are encrypted per field with AES-256-GCM (key id 'demo')",
            ),
        )
        tour = _Tour(manager, sandbox, settings, clock, events)
        yield from tour.connect_customers()
        yield tour.show_token()
        yield tour.expire_and_refresh()
        yield tour.call_listings()
        yield tour.revoke_carrier()
        yield tour.summary()


@dataclass
class _Tour:
    """The demo's steps after setup, sharing the running manager and sandbox."""

    manager: ConnectionManager
    sandbox: SandboxServer
    settings: Settings
    clock: OffsetClock
    events: EventLog

    def connect_customers(self) -> Iterator[DemoStep]:
        for external_id, email in CUSTOMERS:
            connection = self._connect(external_id, email)
            yield DemoStep(
                f"Connected {external_id} ({email})",
                (
                    "authorize URL (state + PKCE) → sandbox login page → callback (state and iss "
                    "checked) → code exchange",
                    f"status {connection.status.value}, scope {' '.join(connection.scope)!r}, "
                    f"generation {connection.generation}",
                    *self.events.drain(),
                ),
            )

    def _connect(self, external_id: str, email: str) -> Connection:
        return connect_test_customer(self.manager, self.sandbox, external_id, email).connection

    def show_token(self) -> DemoStep:
        token = self.manager.access_token(BROKER_ID)
        left = token.expires_at - self.clock()
        return DemoStep(
            f"Got a valid access token for {BROKER_ID}",
            (
                f"{abbreviate(token.access_token)} (an RS256 JWT), valid for {left / 60:.0f} more "
                "minutes",
                "served from the in-process cache: no database read, no HTTP call",
                self._plaintext_check(token.access_token),
            ),
        )

    def _plaintext_check(self, secret: SecretStr) -> str:
        """Search the SQLite file and its WAL for the token: it must only be there encrypted."""
        database = Path(self.settings.effective_database_url.removeprefix("sqlite:///"))
        needle = secret.get_secret_value().encode()
        files = [p for p in (database, Path(f"{database}-wal")) if p.exists()]
        found = any(needle in p.read_bytes() for p in files)
        verdict = "FOUND IN PLAINTEXT" if found else "not found in plaintext"
        return f"searched the vault file and its WAL for the token: {verdict}"

    def expire_and_refresh(self) -> DemoStep:
        before = self.manager.get_connection(BROKER_ID).refresh_token_fingerprint
        expires_at = self.manager.access_token(BROKER_ID).expires_at
        jump = expires_at - self.clock() + 60
        self.clock.advance(jump)
        token = self.manager.access_token(BROKER_ID)
        connection = self.manager.get_connection(BROKER_ID)
        refreshes = self.sandbox.control.counters().calls("refresh_token", "ok")
        return DemoStep(
            f"Let {jump / 60:.0f} minutes pass: the token expired and was refreshed",
            (
                f"access_token() refreshed once under a lease: generation "
                f"{connection.generation - 1} → {connection.generation}",
                f"refresh token rotated: {before} → "
                f"{connection.refresh_token_fingerprint} (the old one is now spent)",
                f"new access token {abbreviate(token.access_token)}",
                f"sandbox token endpoint: {refreshes} successful refresh call(s)",
                *self.events.drain(),
            ),
        )

    def call_listings(self) -> DemoStep:
        verify = self.sandbox.client_ssl_context()
        with httpx.Client(auth=self.manager.auth(BROKER_ID), verify=verify) as http:
            response = http.get(
                self.sandbox.issuer + LISTINGS_PATH, headers={"Accept": LISTINGS_MEDIA_TYPE}
            )
        lines = [
            f"GET {LISTINGS_PATH} with manager.auth({BROKER_ID!r}) → HTTP {response.status_code}"
        ]
        if response.status_code == httpx.codes.OK:
            body = response.json()
            ids = ", ".join(item["id"] for item in body["items"])
            lines.append(f"{body['count']} listings in total; this page: {ids}")
        return DemoStep("Called the protected listings API", tuple(lines))

    def revoke_carrier(self) -> DemoStep:
        revoked = self.sandbox.control.revoke_account(CARRIER_EMAIL)
        try:
            self.manager.access_token(CARRIER_ID)
            outcome = "the refresh unexpectedly succeeded"
        except ReauthorizationRequired as error:
            outcome = f"ReauthorizationRequired ({error.reason})"
        connection = self.manager.get_connection(CARRIER_ID)
        return DemoStep(
            f"{CARRIER_ID} changed their CD password",
            (
                f"Central Dispatch revoked {revoked} grant(s) of {CARRIER_EMAIL}",
                f"next access_token(): refresh → invalid_grant, nobody else rotated → {outcome}",
                f"status {connection.status.value}: no more refresh attempts; the customer must "
                "log in again",
                *self.events.drain(),
            ),
        )

    def summary(self) -> DemoStep:
        page = self.manager.list_connections()
        return DemoStep(
            "Connections in the vault",
            ("the sandbox and the temporary vault are removed when the demo ends",),
            tuple(page.items),
            as_of=self.clock(),
        )
