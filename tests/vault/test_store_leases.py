"""The refresh lease, the fenced rotation write, failures, reauth fencing, keep-alive claims."""

from __future__ import annotations

from cdconnect.models import ConnectionStatus, EventType
from cdconnect.vault import ConnectionRow, SqlStore
from cdconnect.vault.leases import KEEPALIVE_FAILURE_BACKOFF
from tests.vault.helpers import NOW, new_tokens, secret


def _connect(store: SqlStore, external_id: str = "cust-1", *, now: float = NOW) -> ConnectionRow:
    return store.save_connected(external_id, new_tokens(external_id), now=now)


def _reload(store: SqlStore, external_id: str = "cust-1") -> ConnectionRow:
    row = store.get_connection(external_id)
    assert row is not None
    return row


def test_free_lease_is_acquired(store: SqlStore) -> None:
    row = _connect(store)
    assert store.try_acquire_lease(row.id, generation=1, owner="a", until=NOW + 30, now=NOW)
    leased = _reload(store)
    assert (leased.lease_owner, leased.lease_until) == ("a", NOW + 30)


def test_held_lease_refuses_others_but_not_its_holder(store: SqlStore) -> None:
    row = _connect(store)
    assert store.try_acquire_lease(row.id, generation=1, owner="a", until=NOW + 30, now=NOW)
    assert not store.try_acquire_lease(row.id, generation=1, owner="b", until=NOW + 30, now=NOW)
    assert store.try_acquire_lease(row.id, generation=1, owner="a", until=NOW + 40, now=NOW)
    assert _reload(store).lease_until == NOW + 40


def test_expired_lease_can_be_taken_over(store: SqlStore) -> None:
    row = _connect(store)
    assert store.try_acquire_lease(row.id, generation=1, owner="a", until=NOW + 30, now=NOW)
    later = NOW + 30
    assert store.try_acquire_lease(row.id, generation=1, owner="b", until=later + 30, now=later)
    assert _reload(store).lease_owner == "b"


def test_moved_generation_refuses_the_lease(store: SqlStore) -> None:
    row = _connect(store)
    assert store.store_rotation(row.id, generation=1, tokens=new_tokens(), now=NOW)
    assert not store.try_acquire_lease(row.id, generation=1, owner="a", until=NOW + 30, now=NOW)
    assert store.try_acquire_lease(row.id, generation=2, owner="a", until=NOW + 30, now=NOW)


def test_inactive_connection_cannot_be_leased(store: SqlStore) -> None:
    row = _connect(store)
    assert store.mark_reauth_required(row.id, generation=1, reason="r", error=None, now=NOW)
    assert not store.try_acquire_lease(row.id, generation=1, owner="a", until=NOW + 30, now=NOW)
    assert not store.try_acquire_lease("no-such-id", generation=1, owner="a", until=NOW, now=NOW)


def test_renew_and_release_only_by_the_holder(store: SqlStore) -> None:
    row = _connect(store)
    assert not store.renew_lease(row.id, owner="a", until=NOW + 60)
    assert store.try_acquire_lease(row.id, generation=1, owner="a", until=NOW + 30, now=NOW)
    assert store.renew_lease(row.id, owner="a", until=NOW + 60)
    assert not store.renew_lease(row.id, owner="b", until=NOW + 90)
    assert _reload(store).lease_until == NOW + 60
    store.release_lease(row.id, owner="b")
    assert _reload(store).lease_owner == "a"
    store.release_lease(row.id, owner="a")
    released = _reload(store)
    assert (released.lease_owner, released.lease_until) == (None, None)


def test_rotation_stores_tokens_and_clears_the_lease(store: SqlStore) -> None:
    row = _connect(store)
    store.try_acquire_lease(row.id, generation=1, owner="a", until=NOW + 30, now=NOW)
    store.record_failure(row.id, owner="a", error="timeout", now=NOW, release=False)
    fresh = new_tokens("rotated", expires_at=NOW + 7200, scope=("marketplace",), claims={"n": 1})
    assert store.store_rotation(row.id, generation=1, tokens=fresh, now=NOW + 5)
    rotated = _reload(store)
    assert rotated.generation == 2
    assert secret(rotated.access_token) == secret(fresh.access_token)
    assert secret(rotated.refresh_token) == secret(fresh.refresh_token)
    assert rotated.access_expires_at == NOW + 7200
    assert rotated.scope == ("marketplace",)
    assert dict(rotated.claims) == {"n": 1}
    assert (rotated.lease_owner, rotated.lease_until) == (None, None)
    assert (rotated.failure_count, rotated.last_error) == (0, None)
    assert rotated.last_refresh_at == rotated.updated_at == NOW + 5


def test_rotation_without_refresh_token_keeps_the_stored_one(store: SqlStore) -> None:
    original = new_tokens()
    row = store.save_connected("cust-1", original, now=NOW)
    assert store.store_rotation(row.id, generation=1, tokens=new_tokens(refresh=False), now=NOW)
    assert secret(_reload(store).refresh_token) == secret(original.refresh_token)


def test_stale_writer_is_fenced_out(store: SqlStore) -> None:
    row = _connect(store)
    winner = new_tokens("winner")
    assert store.store_rotation(row.id, generation=1, tokens=winner, now=NOW)
    assert not store.store_rotation(row.id, generation=1, tokens=new_tokens("stale"), now=NOW)
    current = _reload(store)
    assert current.generation == 2
    assert secret(current.refresh_token) == secret(winner.refresh_token)


def test_writer_with_expired_lease_is_accepted_while_generation_is_unchanged(
    store: SqlStore,
) -> None:
    row = _connect(store)
    assert store.try_acquire_lease(row.id, generation=1, owner="slow", until=NOW + 30, now=NOW)
    # The slow writer's lease ran out and another worker took it over...
    later = NOW + 60
    assert store.try_acquire_lease(row.id, generation=1, owner="next", until=later + 30, now=later)
    # ...but the slow writer holds the only copy of the new refresh token: it must be stored.
    slow_tokens = new_tokens("slow")
    assert store.store_rotation(row.id, generation=1, tokens=slow_tokens, now=later)
    # The takeover's own rotation (with the now-consumed token) is fenced out.
    assert not store.store_rotation(row.id, generation=1, tokens=new_tokens("next"), now=later)
    current = _reload(store)
    assert secret(current.refresh_token) == secret(slow_tokens.refresh_token)
    assert current.lease_owner is None


def test_record_failure_counts_and_releases_only_its_own_lease(store: SqlStore) -> None:
    row = _connect(store)
    store.try_acquire_lease(row.id, generation=1, owner="a", until=NOW + 30, now=NOW)
    store.record_failure(row.id, owner="a", error="connect refused", now=NOW + 1, release=False)
    kept = _reload(store)
    assert (kept.failure_count, kept.last_error, kept.lease_owner) == (1, "connect refused", "a")
    store.record_failure(row.id, owner="b", error="x" * 5000, now=NOW + 2)
    other = _reload(store)
    assert (other.failure_count, other.lease_owner) == (2, "a")
    assert other.last_error is not None and len(other.last_error) == 1000
    store.record_failure(row.id, owner="a", error="503", now=NOW + 3)
    released = _reload(store)
    assert (released.failure_count, released.last_error) == (3, "503")
    assert (released.lease_owner, released.lease_until) == (None, None)
    assert released.updated_at == NOW + 3


def test_reauth_is_fenced_by_generation(store: SqlStore) -> None:
    row = _connect(store)
    assert store.store_rotation(row.id, generation=1, tokens=new_tokens(), now=NOW)
    # A worker that saw generation 1 lost the race: it must not kill the connection.
    assert not store.mark_reauth_required(
        row.id, generation=1, reason="grant_revoked", error="invalid_grant", now=NOW
    )
    assert _reload(store).status is ConnectionStatus.ACTIVE
    store.try_acquire_lease(row.id, generation=2, owner="a", until=NOW + 30, now=NOW)
    assert store.mark_reauth_required(
        row.id, generation=2, reason="grant_revoked", error="invalid_grant", now=NOW + 1
    )
    dead = _reload(store)
    assert dead.status is ConnectionStatus.REAUTH_REQUIRED
    assert (dead.reauth_reason, dead.last_error) == ("grant_revoked", "invalid_grant")
    assert (dead.lease_owner, dead.generation) == (None, 2)
    # Marking twice does not queue a second event.
    assert not store.mark_reauth_required(row.id, generation=2, reason="r", error=None, now=NOW)
    events = store.claim_events(limit=10, now=NOW + 1, lease_seconds=30)
    assert [event.type for event in events] == [EventType.CONNECTED, EventType.REAUTH_REQUIRED]
    assert dict(events[1].data) == {"reason": "grant_revoked", "generation": 2}
    assert events[1].external_id == "cust-1"


def test_keepalive_claims_due_rows_and_leases_them(store: SqlStore) -> None:
    old = _connect(store, "old", now=NOW - 1000)
    _connect(store, "recent", now=NOW - 10)
    expiring = _connect(store, "expiring", now=NOW - 10)
    store.store_rotation(
        expiring.id, generation=1, tokens=new_tokens(expires_at=NOW + 60), now=NOW - 10
    )
    claimed = store.claim_due_for_keepalive(
        owner="w",
        lease_until=NOW + 30,
        refreshed_before=NOW - 500,
        access_expiring_before=NOW + 120,
        limit=10,
        now=NOW,
    )
    assert sorted(row.external_id for row in claimed) == ["expiring", "old"]
    assert all(row.lease_owner == "w" and row.lease_until == NOW + 30 for row in claimed)
    assert all(row.refresh_token is not None for row in claimed)
    assert _reload(store, "old").lease_owner == "w"
    assert _reload(store, "recent").lease_owner is None
    # Leased rows are not handed out again while the lease holds...
    again = store.claim_due_for_keepalive(
        owner="v",
        lease_until=NOW + 30,
        refreshed_before=NOW - 500,
        access_expiring_before=None,
        limit=10,
        now=NOW + 1,
    )
    assert again == []
    # ...but are once it expired.
    expired = store.claim_due_for_keepalive(
        owner="v",
        lease_until=NOW + 100,
        refreshed_before=NOW - 500,
        access_expiring_before=None,
        limit=10,
        now=NOW + 31,
    )
    assert [row.id for row in expired] == [old.id]


def test_keepalive_skips_unrefreshable_rows_and_respects_the_limit(store: SqlStore) -> None:
    for index in range(5):
        _connect(store, f"due-{index}", now=NOW - 1000 + index)
    store.save_connected("no-refresh", new_tokens(refresh=False), now=NOW - 2000)
    dead = _connect(store, "dead", now=NOW - 2000)
    store.mark_reauth_required(dead.id, generation=1, reason="r", error=None, now=NOW - 2000)
    _connect(store, "gone", now=NOW - 2000)
    store.disconnect("gone", now=NOW - 2000)
    claimed = store.claim_due_for_keepalive(
        owner="w",
        lease_until=NOW + 30,
        refreshed_before=NOW,
        access_expiring_before=None,
        limit=3,
        now=NOW,
    )
    # Oldest first.
    assert sorted(row.external_id for row in claimed) == ["due-0", "due-1", "due-2"]


def test_keepalive_backs_off_connections_whose_refreshes_keep_failing(store: SqlStore) -> None:
    row = _connect(store, "flaky", now=NOW - 1000)
    for failure in range(3):
        assert store.try_acquire_lease(
            row.id, generation=1, owner="w", until=NOW + 30, now=NOW - 100 + failure
        )
        store.record_failure(row.id, owner="w", error="temporarily_unavailable", now=NOW)

    def claim(at: float) -> list[str]:
        claimed = store.claim_due_for_keepalive(
            owner="k",
            lease_until=at + 30,
            refreshed_before=at - 500,
            access_expiring_before=None,
            limit=10,
            now=at,
        )
        return [r.external_id for r in claimed]

    # Three failures in a row: not before three backoff steps after the last one.
    assert claim(NOW + 3 * KEEPALIVE_FAILURE_BACKOFF - 1) == []
    assert claim(NOW + 3 * KEEPALIVE_FAILURE_BACKOFF) == ["flaky"]
