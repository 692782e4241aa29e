"""What a trial looks at when it is over: the vault's rows, the sandbox's counters and state,
the listings resource, and the secrets to look for in the logs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import httpx

from cdconnect.manager import ConnectionManager
from cdconnect.sandbox import CounterSnapshot, SandboxServer
from cdconnect.settings import Settings
from cdconnect.vault.api import ConnectionRow
from tests.chaos.facts import ConnectionFacts, SandboxFacts
from tests.chaos.logscan import KnownSecrets, sha256_hex
from tests.chaos.messages import Resolution

LISTINGS = "/marketplace/v2/listings"
LISTINGS_ACCEPT = "application/vnd.coxauto.v2+json"


def read_rows(host: ConnectionManager, external_ids: Iterable[str]) -> dict[str, ConnectionRow]:
    rows = {}
    for external_id in external_ids:
        row = host.store.get_connection(external_id)
        assert row is not None, f"{external_id} vanished from the vault"
        rows[external_id] = row
    return rows


def sandbox_facts(counters: CounterSnapshot) -> SandboxFacts:
    return SandboxFacts(
        ok=counters.calls("refresh_token", "ok"),
        dropped=counters.calls("refresh_token", "dropped"),
        hung=counters.calls("refresh_token", "hung"),
        invalid_grant=counters.calls("refresh_token", "invalid_grant"),
        fault_5xx=counters.calls("refresh_token", "fault_5xx"),
        reuse=counters.refresh_reuse,
    )


def connection_facts(
    sandbox: SandboxServer,
    http: httpx.Client,
    rows: tuple[ConnectionRow, ConnectionRow],
    counters: CounterSnapshot,
    resolution: Resolution,
) -> ConnectionFacts:
    """One connection's facts from its rows before the storm and at the end."""
    before, after = rows
    grant_id = str(before.claims.get("sid", ""))
    assert grant_id, "the sandbox's access tokens carry the grant id in the sid claim"
    return ConnectionFacts(
        external_id=after.external_id,
        generation_before=before.generation,
        generation_after=after.generation,
        rotations=counters.refreshes_by_grant.get(grant_id, 0),
        status=after.status.value,
        reason=after.reauth_reason,
        chain_current=chain_current(sandbox, grant_id, after),
        resource_status=resource_status(sandbox, http, after),
        survivor=resolution,
    )


def chain_current(sandbox: SandboxServer, grant_id: str, row: ConnectionRow) -> bool:
    """Would the sandbox accept the stored refresh token? (Asked without spending it.)"""
    if row.refresh_token is None:
        return False
    presented = sha256_hex(row.refresh_token.get_secret_value())
    state = sandbox.state
    with state.lock:
        grant = state.grants.get(grant_id)
        record = state.refresh_tokens.get(presented)
        return (
            grant is not None
            and grant.revoked_reason is None
            and grant.current_refresh == presented
            and record is not None
            and not record.consumed
        )


def resource_status(sandbox: SandboxServer, http: httpx.Client, row: ConnectionRow) -> int | None:
    """The listings resource's answer to the stored access token (None: nothing to try)."""
    if row.status.value != "active" or row.access_token is None:
        return None
    response = http.get(
        f"{sandbox.issuer}{LISTINGS}",
        headers={
            "Authorization": f"Bearer {row.access_token.get_secret_value()}",
            "Accept": LISTINGS_ACCEPT,
        },
    )
    return response.status_code


def known_secrets(
    sandbox: SandboxServer, settings: Settings, snapshots: Iterable[Mapping[str, ConnectionRow]]
) -> KnownSecrets:
    """The client secrets, every token the vault held in ``snapshots``, the sandbox's digests."""
    stored: set[str] = set()
    for rows in snapshots:
        for row in rows.values():
            for secret in (row.access_token, row.refresh_token):
                if secret is not None:
                    stored.add(secret.get_secret_value())
    state = sandbox.state
    with state.lock:
        digests = set(state.refresh_tokens) | set(state.codes)
    return KnownSecrets(
        exact={"a client secret": client_secrets(settings), "a token the vault held": stored},
        issued_digests=digests,
    )


def client_secrets(settings: Settings) -> set[str]:
    secrets = {settings.client_secret.get_secret_value()}
    if settings.service_client_secret is not None:
        secrets.add(settings.service_client_secret.get_secret_value())
    return secrets
