"""Connection lifecycle on both backends: connect, read, list, count, disconnect, events."""

from __future__ import annotations

import pytest

from cdconnect.errors import InvalidInput
from cdconnect.models import ConnectionStatus, EventType
from cdconnect.vault import SqlStore
from tests.vault.helpers import NOW, SCOPE, new_tokens, secret


def test_unknown_connection_is_none(store: SqlStore) -> None:
    assert store.get_connection("nobody") is None
    assert store.disconnect("nobody", now=NOW) is None


def test_save_connected_creates_an_active_connection(store: SqlStore) -> None:
    tokens = new_tokens("c1", claims={"sub": "42", "aud": ["x"]})
    saved = store.save_connected("cust-1", tokens, now=NOW)
    assert saved.external_id == "cust-1"
    assert saved.status is ConnectionStatus.ACTIVE
    assert saved.generation == 1
    assert saved.scope == SCOPE
    assert saved.created_at == saved.updated_at == saved.last_refresh_at == NOW
    assert (saved.failure_count, saved.last_error, saved.reauth_reason) == (0, None, None)
    assert (saved.lease_owner, saved.lease_until) == (None, None)
    assert dict(saved.claims) == {"sub": "42", "aud": ["x"]}

    loaded = store.get_connection("cust-1")
    assert loaded is not None
    assert loaded.id == saved.id
    assert secret(loaded.access_token) == secret(tokens.access_token)
    assert secret(loaded.refresh_token) == secret(tokens.refresh_token)
    assert loaded.access_expires_at == tokens.access_expires_at
    assert loaded.public().has_refresh_token


def test_reconnect_keeps_the_row_and_bumps_generation(store: SqlStore) -> None:
    first = store.save_connected("cust-1", new_tokens("a"), now=NOW)
    assert store.try_acquire_lease(first.id, generation=1, owner="w", until=NOW + 60, now=NOW)
    store.record_failure(first.id, owner="w", error="boom", now=NOW, release=False)
    again = store.save_connected("cust-1", new_tokens("b", refresh=False), now=NOW + 10)
    assert again.id == first.id
    assert again.generation == 2
    assert again.created_at == NOW and again.updated_at == NOW + 10
    assert (again.lease_owner, again.failure_count, again.last_error) == (None, 0, None)
    # A new grant without a refresh token does not inherit the old grant's one.
    assert again.refresh_token is None
    events = store.claim_events(limit=10, now=NOW + 10, lease_seconds=30)
    assert [event.type for event in events] == [EventType.CONNECTED, EventType.CONNECTED]


def test_reconnect_after_reauth_is_a_recovery(store: SqlStore) -> None:
    row = store.save_connected("cust-1", new_tokens(), now=NOW)
    assert store.mark_reauth_required(
        row.id, generation=1, reason="grant_revoked", error="invalid_grant", now=NOW + 1
    )
    recovered = store.save_connected("cust-1", new_tokens(), now=NOW + 2)
    assert recovered.status is ConnectionStatus.ACTIVE
    assert recovered.reauth_reason is None
    events = store.claim_events(limit=10, now=NOW + 2, lease_seconds=30)
    assert [event.type for event in events] == [
        EventType.CONNECTED,
        EventType.REAUTH_REQUIRED,
        EventType.RECOVERED,
    ]
    assert dict(events[2].data) == {"generation": 2, "scope": list(SCOPE)}


def test_disconnect_returns_the_row_before_and_drops_tokens(store: SqlStore) -> None:
    tokens = new_tokens()
    row = store.save_connected("cust-1", tokens, now=NOW)
    before = store.disconnect("cust-1", now=NOW + 5)
    assert before is not None
    assert before.status is ConnectionStatus.ACTIVE
    assert secret(before.refresh_token) == secret(tokens.refresh_token)
    after = store.get_connection("cust-1")
    assert after is not None
    assert after.status is ConnectionStatus.DISCONNECTED
    assert after.generation == 2
    assert (after.access_token, after.refresh_token, after.access_expires_at) == (None,) * 3
    assert after.updated_at == NOW + 5
    # Idempotent: no second event, no new generation.
    again = store.disconnect("cust-1", now=NOW + 6)
    assert again is not None and again.status is ConnectionStatus.DISCONNECTED
    events = store.claim_events(limit=10, now=NOW + 6, lease_seconds=30)
    assert [event.type for event in events] == [EventType.CONNECTED, EventType.DISCONNECTED]
    assert dict(events[1].data) == {"generation": 2, "previous_status": "active"}
    assert events[1].connection_id == row.id
    # A leased, fenced writer of the old generation cannot resurrect the tokens.
    assert not store.store_rotation(row.id, generation=1, tokens=new_tokens(), now=NOW + 7)


def test_event_data_never_holds_tokens(store: SqlStore) -> None:
    tokens = new_tokens()
    row = store.save_connected("cust-1", tokens, now=NOW)
    store.mark_reauth_required(row.id, generation=1, reason="r", error="e", now=NOW)
    store.disconnect("cust-1", now=NOW)
    events = store.claim_events(limit=10, now=NOW, lease_seconds=30)
    assert len(events) == 3
    text = repr([dict(event.data) for event in events])
    assert tokens.access_token.get_secret_value() not in text
    assert str(secret(tokens.refresh_token)) not in text


def test_count_by_status(store: SqlStore) -> None:
    assert store.count_by_status() == dict.fromkeys(ConnectionStatus, 0)
    for name in ("a", "b", "c"):
        store.save_connected(name, new_tokens(), now=NOW)
    row = store.get_connection("b")
    assert row is not None
    store.mark_reauth_required(row.id, generation=1, reason="r", error=None, now=NOW)
    store.disconnect("c", now=NOW)
    assert store.count_by_status() == {
        ConnectionStatus.ACTIVE: 1,
        ConnectionStatus.REAUTH_REQUIRED: 1,
        ConnectionStatus.DISCONNECTED: 1,
    }


def test_list_connections_pages_with_a_cursor(store: SqlStore) -> None:
    names = [f"cust-{i:02d}" for i in range(7)]
    for name in reversed(names):
        store.save_connected(name, new_tokens(), now=NOW)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = store.list_connections(limit=3, cursor=cursor)
        seen.extend(item.external_id for item in page.items)
        assert len(page.items) <= 3
        if page.next_cursor is None:
            break
        assert "cust" not in page.next_cursor  # opaque
        cursor = page.next_cursor
    assert seen == names
    assert all(item.has_refresh_token for item in store.list_connections().items)


def test_list_connections_filters_by_status(store: SqlStore) -> None:
    for name in ("a", "b", "c", "d"):
        store.save_connected(name, new_tokens(), now=NOW)
    store.disconnect("b", now=NOW)
    store.disconnect("d", now=NOW)
    page = store.list_connections(status=ConnectionStatus.DISCONNECTED, limit=1)
    assert [item.external_id for item in page.items] == ["b"]
    assert page.next_cursor is not None
    rest = store.list_connections(status=ConnectionStatus.DISCONNECTED, cursor=page.next_cursor)
    assert [item.external_id for item in rest.items] == ["d"]
    assert rest.next_cursor is None
    assert not rest.items[0].has_refresh_token
    active = store.list_connections(status=ConnectionStatus.ACTIVE)
    assert [item.external_id for item in active.items] == ["a", "c"]


def test_list_connections_rejects_bad_arguments(store: SqlStore) -> None:
    with pytest.raises(InvalidInput, match="cursor"):
        store.list_connections(cursor="not-a-cursor")
    with pytest.raises(InvalidInput, match="cursor"):
        store.list_connections(cursor="c1.%%%")
    with pytest.raises(InvalidInput, match="limit"):
        store.list_connections(limit=0)
