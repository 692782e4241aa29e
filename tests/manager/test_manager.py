"""The library API end to end: real database (SQLite and PostgreSQL), sandbox over HTTPS."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from pydantic import SecretStr

from cdconnect.errors import (
    ConnectionDisconnected,
    ConnectionNotFound,
    InvalidClient,
    InvalidGrant,
    InvalidInput,
    IssuerMismatch,
    ReauthorizationRequired,
    RefreshUnavailable,
    ReturnUrlNotAllowed,
    StateMismatch,
)
from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.models import ConnectionStatus
from cdconnect.oauth import TokenClient, build_http_client, refresh_token_request
from cdconnect.sandbox import SandboxServer, login
from cdconnect.settings import Settings
from cdconnect.testing import OffsetClock
from cdconnect.vault.crypto import KeyRing
from tests.manager.conftest import BROKER, CARRIER, Recorder, connect

LISTINGS = "/marketplace/v2/listings"
HOUR = 3600.0


def refreshes(sandbox: SandboxServer) -> dict[str, int]:
    return dict(sandbox.control.counters().token_calls.get("refresh_token", {}))


def test_connect_stores_an_active_connection_and_serves_the_token_from_cache(
    manager: ConnectionManager, sandbox: SandboxServer, recorder: Recorder
) -> None:
    result = connect(manager, sandbox, "acme")
    assert result.connection.status is ConnectionStatus.ACTIVE
    assert result.connection.external_id == "acme"
    assert "marketplace" in result.connection.scope
    assert result.connection.has_refresh_token
    assert result.previous_status is None
    assert recorder.types() == ["connection.connected"]
    first = manager.access_token("acme")
    assert manager.access_token("acme") is first
    assert refreshes(sandbox).get("ok", 0) == 0
    with httpx.Client(verify=sandbox.client_ssl_context()) as http:
        response = http.get(
            sandbox.issuer + LISTINGS,
            headers={
                "Authorization": first.authorization_header(),
                "Accept": "application/vnd.coxauto.v2+json",
            },
        )
    assert response.status_code == 200


def test_expiry_rotates_once_and_the_old_refresh_token_is_dead(
    manager: ConnectionManager, sandbox: SandboxServer, clock: OffsetClock, recorder: Recorder
) -> None:
    connect(manager, sandbox, "acme")
    before = manager.store.get_connection("acme")
    assert before is not None and before.refresh_token is not None
    old_token = manager.access_token("acme")
    fingerprint_before = manager.get_connection("acme").refresh_token_fingerprint
    clock.advance(HOUR)
    new_token = manager.access_token("acme")
    fingerprint_after = manager.get_connection("acme").refresh_token_fingerprint
    assert fingerprint_before is not None and fingerprint_after is not None
    assert fingerprint_before != fingerprint_after
    assert before.refresh_token.get_secret_value() not in fingerprint_before
    assert new_token.access_token != old_token.access_token
    assert new_token.generation == (old_token.generation or 0) + 1
    assert manager.access_token("acme") is new_token
    assert refreshes(sandbox)["ok"] == 1
    assert "connection.refreshed" in recorder.types()
    after = manager.store.get_connection("acme")
    assert after is not None and after.refresh_token != before.refresh_token
    with build_http_client(manager.settings) as http, pytest.raises(InvalidGrant):
        TokenClient(http).send(
            refresh_token_request(
                manager.settings.token_endpoint,
                manager.settings.connect_credentials(),
                refresh_token=before.refresh_token,
            )
        )


def test_fifty_threads_on_an_expired_connection_cause_one_refresh(
    manager: ConnectionManager, sandbox: SandboxServer, clock: OffsetClock
) -> None:
    connect(manager, sandbox, "acme")
    clock.advance(HOUR)
    with ThreadPoolExecutor(max_workers=50) as pool:
        tokens = list(pool.map(lambda _: manager.access_token("acme"), range(50)))
    assert len({t.access_token.get_secret_value() for t in tokens}) == 1
    counts = refreshes(sandbox)
    assert counts["ok"] == 1
    assert counts.get("invalid_grant", 0) == 0


def test_fifty_tasks_on_an_expired_connection_cause_one_refresh(
    manager: ConnectionManager, sandbox: SandboxServer, clock: OffsetClock
) -> None:
    connect(manager, sandbox, "acme")
    clock.advance(HOUR)

    async def storm() -> set[str]:
        tokens = await asyncio.gather(*(manager.aaccess_token("acme") for _ in range(50)))
        return {t.access_token.get_secret_value() for t in tokens}

    assert len(asyncio.run(storm())) == 1
    assert refreshes(sandbox)["ok"] == 1


def test_two_managers_on_one_database_share_one_rotation(
    manager: ConnectionManager, settings: Settings, sandbox: SandboxServer, clock: OffsetClock
) -> None:
    connect(manager, sandbox, "acme")
    clock.advance(HOUR)
    with open_manager(settings, clock=clock) as other, ThreadPoolExecutor(max_workers=20) as pool:
        futures = [
            pool.submit((manager if i % 2 else other).access_token, "acme") for i in range(20)
        ]
        tokens = {f.result().access_token.get_secret_value() for f in futures}
    assert len(tokens) == 1
    counts = refreshes(sandbox)
    assert counts["ok"] == 1
    assert counts.get("invalid_grant", 0) == 0


def test_a_still_valid_token_is_served_at_once_while_a_slow_refresh_runs(
    manager: ConnectionManager, settings: Settings, sandbox: SandboxServer, clock: OffsetClock
) -> None:
    connect(manager, sandbox, "acme")
    old = manager.access_token("acme")
    # Inside the refresh margin but not expired: the next call refreshes.
    clock.advance(old.expires_at - clock() - manager.settings.refresh_margin / 2)
    sandbox.control.set_faults(latency=3.0)
    with ThreadPoolExecutor(max_workers=1) as pool, open_manager(settings, clock=clock) as host_b:
        refreshing = pool.submit(manager.access_token, "acme")
        _wait_for_lease(manager, "acme")
        # Same process (the in-process flight is busy) and another host (the lease is held):
        # both get the old, still valid token instead of queueing behind the slow refresh.
        assert manager.access_token("acme").access_token == old.access_token
        assert host_b.access_token("acme").access_token == old.access_token
        new = refreshing.result()
    assert new.generation == (old.generation or 0) + 1
    assert refreshes(sandbox)["ok"] == 1


def _wait_for_lease(manager: ConnectionManager, external_id: str) -> None:
    for _ in range(3000):
        row = manager.store.get_connection(external_id)
        if row is not None and row.lease_owner is not None:
            return
        time.sleep(0.01)
    raise AssertionError("the refresh never took the lease")


def test_drop_after_commit_ends_in_reauth_with_reason_and_event(
    manager: ConnectionManager, sandbox: SandboxServer, clock: OffsetClock, recorder: Recorder
) -> None:
    connect(manager, sandbox, "acme")
    clock.advance(HOUR)
    sandbox.control.set_faults(drop_after_commit=1)
    with pytest.raises(ReauthorizationRequired) as caught:
        manager.access_token("acme")
    assert caught.value.reason == "rotation_response_lost"
    connection = manager.get_connection("acme")
    assert connection.status is ConnectionStatus.REAUTH_REQUIRED
    assert connection.reauth_reason == "rotation_response_lost"
    assert recorder.types()[-1] == "connection.reauth_required"
    # No further refresh attempts for a dead grant.
    calls = sum(refreshes(sandbox).values())
    with pytest.raises(ReauthorizationRequired):
        manager.access_token("acme")
    assert sum(refreshes(sandbox).values()) == calls


def test_revoked_grant_needs_reauth_and_a_new_login_recovers_it(
    manager: ConnectionManager, sandbox: SandboxServer, clock: OffsetClock, recorder: Recorder
) -> None:
    connect(manager, sandbox, "acme", CARRIER)
    sandbox.control.revoke_account(CARRIER)
    clock.advance(HOUR)
    with pytest.raises(ReauthorizationRequired) as caught:
        manager.access_token("acme")
    assert caught.value.reason == "grant_revoked"
    result = connect(manager, sandbox, "acme", CARRIER)
    assert result.recovered
    assert result.connection.status is ConnectionStatus.ACTIVE
    assert recorder.types()[-1] == "connection.recovered"
    assert manager.access_token("acme").generation == result.connection.generation


def test_invalid_client_fails_loudly_and_marks_nothing(
    settings: Settings, sandbox: SandboxServer, clock: OffsetClock
) -> None:
    with open_manager(settings, clock=clock) as good:
        connect(good, sandbox, "acme")
    broken = settings.model_copy(update={"client_secret": SecretStr("not-the-secret")})
    with open_manager(broken, clock=clock) as bad:
        clock.advance(HOUR)
        with pytest.raises(InvalidClient):
            bad.access_token("acme")
        assert bad.get_connection("acme").status is ConnectionStatus.ACTIVE


@pytest.mark.parametrize("with_body", [True, False], ids=["503-oauth-body", "502-no-body"])
def test_server_errors_keep_serving_the_still_valid_token(
    manager: ConnectionManager, sandbox: SandboxServer, clock: OffsetClock, with_body: bool
) -> None:
    connect(manager, sandbox, "acme")
    served = manager.access_token("acme")
    # Inside the refresh margin but not expired: refresh early, degrade late.
    clock.advance(served.expires_at - clock() - manager.settings.refresh_margin / 2)
    sandbox.control.set_faults(error_rate=1.0, error_with_body=with_body)
    assert manager.access_token("acme").access_token == served.access_token
    connection = manager.get_connection("acme")
    assert connection.status is ConnectionStatus.ACTIVE
    assert connection.failure_count >= 1
    clock.advance(manager.settings.refresh_margin)
    with pytest.raises(RefreshUnavailable):
        manager.access_token("acme")
    sandbox.control.set_faults(error_rate=0.0)
    assert manager.refresh("acme").generation == (served.generation or 0) + 1


def test_disconnect_forgets_tokens_and_blocks_access(
    manager: ConnectionManager, sandbox: SandboxServer, recorder: Recorder
) -> None:
    connect(manager, sandbox, "acme")
    connection = manager.disconnect("acme")
    assert connection.status is ConnectionStatus.DISCONNECTED
    assert not connection.has_refresh_token
    assert recorder.types()[-1] == "connection.disconnected"
    with pytest.raises(ConnectionDisconnected):
        manager.access_token("acme")
    with pytest.raises(ConnectionNotFound):
        manager.disconnect("nobody")


def test_list_and_get_connections(manager: ConnectionManager, sandbox: SandboxServer) -> None:
    connect(manager, sandbox, "acme")
    connect(manager, sandbox, "globex", CARRIER)
    page = manager.list_connections()
    assert sorted(c.external_id for c in page.items) == ["acme", "globex"]
    assert manager.count_by_status()[ConnectionStatus.ACTIVE] == 2
    with pytest.raises(ConnectionNotFound):
        manager.get_connection("nobody")


def test_client_token_is_cached(manager: ConnectionManager, sandbox: SandboxServer) -> None:
    first = manager.client_token()
    assert manager.client_token() is first
    assert sandbox.control.counters().calls("client_credentials", "ok") == 1

    async def again() -> None:
        assert await manager.aclient_token() is first

    asyncio.run(again())


def test_httpx_auth_injects_the_token_and_recovers_from_a_401(
    manager: ConnectionManager, sandbox: SandboxServer
) -> None:
    connect(manager, sandbox, "acme")
    headers = {"Accept": "application/vnd.coxauto.v2+json"}
    with httpx.Client(
        base_url=sandbox.issuer, verify=sandbox.client_ssl_context(), auth=manager.auth("acme")
    ) as http:
        assert http.get(LISTINGS, headers=headers).status_code == 200
        # The resource's clock moves past the token's expiry; our cache still thinks it fresh.
        sandbox.control.set_clock_offset(2 * HOUR)
        assert http.get(LISTINGS, headers=headers).status_code == 200
    assert refreshes(sandbox)["ok"] == 1

    async def call_async() -> int:
        async with httpx.AsyncClient(
            base_url=sandbox.issuer, verify=sandbox.client_ssl_context(), auth=manager.auth("acme")
        ) as client:
            return (await client.get(LISTINGS, headers=headers)).status_code

    assert asyncio.run(call_async()) == 200


def test_return_urls_off_the_allow_list_are_refused(manager: ConnectionManager) -> None:
    assert manager.begin_connect("acme", return_url="https://app.example.com/cd/done")
    for url in (
        "https://evil.example.com/cd/done",
        "https://app.example.com/cdx",
        "https://app.example.com@evil.example.com/cd/",
        "http://app.example.com/cd/done",
        "//evil.example.com",
        "javascript:alert(1)",
    ):
        with pytest.raises(ReturnUrlNotAllowed):
            manager.begin_connect("acme", return_url=url)


def test_a_replayed_callback_is_refused_and_stores_nothing_new(
    manager: ConnectionManager, sandbox: SandboxServer
) -> None:
    start = manager.begin_connect("acme")
    account = sandbox.config.account(BROKER)
    assert account is not None
    with httpx.Client(verify=sandbox.client_ssl_context()) as http:
        callback = login(http, start.authorize_url, BROKER, account.password)
    manager.complete_connect(callback)
    generation = manager.get_connection("acme").generation
    with pytest.raises(StateMismatch):
        manager.complete_connect(callback)
    assert manager.get_connection("acme").generation == generation


def test_a_callback_from_another_issuer_is_refused(
    manager: ConnectionManager, sandbox: SandboxServer
) -> None:
    start = manager.begin_connect("acme")
    account = sandbox.config.account(BROKER)
    assert account is not None
    with httpx.Client(verify=sandbox.client_ssl_context()) as http:
        callback = login(http, start.authorize_url, BROKER, account.password)
    forged = callback.replace("iss=", "iss=https%3A%2F%2Fevil.example.com&x=")
    with pytest.raises(IssuerMismatch):
        manager.complete_connect(forged)
    with pytest.raises(ConnectionNotFound):
        manager.get_connection("acme")


def test_no_secret_reaches_the_logs(
    manager: ConnectionManager,
    sandbox: SandboxServer,
    clock: OffsetClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    start = manager.begin_connect("acme")
    account = sandbox.config.account(BROKER)
    assert account is not None
    with httpx.Client(verify=sandbox.client_ssl_context()) as http:
        # The test's own browser stand-in sees the code in the redirect; logging starts after.
        callback = login(http, start.authorize_url, BROKER, account.password)
    caplog.set_level(logging.DEBUG)
    manager.complete_connect(callback)
    clock.advance(HOUR)
    token = manager.access_token("acme")
    row = manager.store.get_connection("acme")
    assert row is not None and row.refresh_token is not None
    secrets = [
        token.access_token.get_secret_value(),
        row.refresh_token.get_secret_value(),
        manager.settings.client_secret.get_secret_value(),
        callback.split("code=")[1].split("&")[0],
    ]
    text = caplog.text + repr(token) + repr(row) + repr(manager.get_connection("acme"))
    for secret in secrets:
        assert secret not in text


def test_readiness_reports_a_key_ring_that_cannot_decrypt_the_data(
    manager: ConnectionManager, settings: Settings, sandbox: SandboxServer
) -> None:
    assert manager.check_ready() == {"database": "ok", "key_ring": "ok"}
    connect(manager, sandbox, "acme")
    assert manager.check_ready() == {"database": "ok", "key_ring": "ok"}
    wrong_keys = settings.model_copy(
        update={"encryption_keys": SecretStr(KeyRing.generate().export())}
    )
    with open_manager(wrong_keys) as other:
        assert other.check_ready() == {"database": "ok", "key_ring": "decryption_error"}


@pytest.mark.parametrize("scope", [(), ("market place",), ('quote"d',), ("café",)])
def test_an_invalid_requested_scope_is_refused_as_input(
    manager: ConnectionManager, scope: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidInput):
        manager.begin_connect("acme", scope=scope)
    assert manager.begin_connect("acme", scope=("marketplace", "offline_access"))


def test_encryption_key_id_names_the_first_key_of_the_ring(
    manager: ConnectionManager, settings: Settings
) -> None:
    assert settings.encryption_keys is not None
    ring = KeyRing.parse(settings.encryption_keys.get_secret_value())
    assert manager.encryption_key_id == ring.primary_kid


def test_async_resolution_and_close_release_the_event_loops_client(
    settings: Settings, sandbox: SandboxServer, clock: OffsetClock
) -> None:
    async def scenario() -> tuple[int, int]:
        manager = open_manager(settings, clock=clock)
        connect(manager, sandbox, "acme")
        clock.advance(HOUR)
        first = await manager.aaccess_token("acme")
        forced = await manager.arefresh("acme", force=True)
        await manager.aclose()
        return first.generation or 0, forced.generation or 0

    first, forced = asyncio.run(scenario())
    assert (first, forced) == (2, 3)
    assert refreshes(sandbox)["ok"] == 2
