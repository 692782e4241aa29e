"""Pending authorizations (single use, hashed state) and the event outbox."""

from __future__ import annotations

import hashlib

from pydantic import SecretStr
from sqlalchemy import select

from cdconnect.models import EventType
from cdconnect.vault import OpenedLink, PendingAuthorization, SqlStore
from cdconnect.vault.api import secret_hash
from cdconnect.vault.schema import outbox_events, pending_authorizations
from tests.vault.helpers import NOW, SCOPE, new_tokens, raw_connection, secret

STATE = "state-0123456789abcdef-recognisable"
VERIFIER = "verifier-0123456789abcdef-recognisable"


def _create(
    store: SqlStore, state: str = STATE, *, now: float = NOW, ttl: float = 600
) -> PendingAuthorization:
    return store.create_pending(
        state=SecretStr(state),
        external_id="cust-1",
        redirect_uri="https://vendor.example/cb",
        scope=SCOPE,
        issuer="https://id.centraldispatch.com",
        code_verifier=SecretStr(VERIFIER),
        return_url="https://vendor.example/done",
        now=now,
        expires_at=now + ttl,
    )


def test_pending_is_consumed_once(store: SqlStore) -> None:
    created = _create(store)
    consumed = store.consume_pending(SecretStr(STATE), now=NOW + 1)
    assert consumed is not None
    assert consumed.id == created.id
    assert consumed.external_id == "cust-1"
    assert consumed.redirect_uri == "https://vendor.example/cb"
    assert consumed.scope == SCOPE
    assert consumed.issuer == "https://id.centraldispatch.com"
    assert secret(consumed.code_verifier) == VERIFIER
    assert consumed.return_url == "https://vendor.example/done"
    assert (consumed.created_at, consumed.expires_at) == (NOW, NOW + 600)
    assert store.consume_pending(SecretStr(STATE), now=NOW + 2) is None


def test_unknown_or_expired_pending_is_none(store: SqlStore) -> None:
    _create(store, ttl=60)
    assert store.consume_pending(SecretStr("other-state"), now=NOW) is None
    assert store.consume_pending(SecretStr(STATE), now=NOW + 60) is None


def test_pending_without_verifier(store: SqlStore) -> None:
    store.create_pending(
        state=SecretStr(STATE),
        external_id="cust-1",
        redirect_uri="https://vendor.example/cb",
        scope=(),
        issuer="https://id.centraldispatch.com",
        code_verifier=None,
        return_url=None,
        now=NOW,
        expires_at=NOW + 60,
    )
    consumed = store.consume_pending(SecretStr(STATE), now=NOW)
    assert consumed is not None
    assert (consumed.code_verifier, consumed.return_url, consumed.scope) == (None, None, ())


def test_state_is_stored_only_hashed_and_verifier_encrypted(
    store: SqlStore, database_url: str
) -> None:
    _create(store)
    with raw_connection(database_url) as conn:
        row = conn.execute(select(pending_authorizations)).one()
    values = [value for value in row if value is not None]
    assert row.state_hash == hashlib.sha256(STATE.encode()).hexdigest()
    assert not any(STATE in str(value) for value in values)
    assert not any(VERIFIER.encode() in bytes(v) for v in values if isinstance(v, bytes))
    assert isinstance(row.code_verifier, bytes)


def test_creating_sweeps_expired_pending_rows(store: SqlStore, database_url: str) -> None:
    _create(store, "old-state", ttl=10)
    _create(store, "new-state", now=NOW + 20)
    with raw_connection(database_url) as conn:
        hashes = set(conn.execute(select(pending_authorizations.c.state_hash)).scalars())
    assert hashes == {hashlib.sha256(b"new-state").hexdigest()}


def test_outbox_claim_deliver_fail(store: SqlStore) -> None:
    row = store.save_connected("cust-1", new_tokens(), now=NOW)
    store.disconnect("cust-1", now=NOW + 1)
    first = store.claim_events(limit=1, now=NOW + 1, lease_seconds=30)
    assert len(first) == 1
    connected = first[0]
    assert (connected.type, connected.connection_id, connected.external_id) == (
        EventType.CONNECTED,
        row.id,
        "cust-1",
    )
    assert (connected.occurred_at, connected.attempts) == (NOW, 1)
    assert connected.next_attempt_at == NOW + 31
    assert (connected.delivered_at, connected.last_error) == (None, None)
    # The claim is a lease: the same event is not handed out again until it runs out.
    second = store.claim_events(limit=10, now=NOW + 2, lease_seconds=30)
    assert [event.type for event in second] == [EventType.DISCONNECTED]

    store.mark_event_delivered(connected.id, now=NOW + 3)
    store.mark_event_failed(second[0].id, error="HTTP 500", next_attempt_at=NOW + 100, now=NOW + 3)
    assert store.claim_events(limit=10, now=NOW + 99, lease_seconds=30) == []
    retried = store.claim_events(limit=10, now=NOW + 100, lease_seconds=30)
    assert [(event.id, event.attempts, event.last_error) for event in retried] == [
        (second[0].id, 2, "HTTP 500")
    ]
    # Only the undelivered one comes back once its lease ran out.
    later = store.claim_events(limit=10, now=NOW + 10_000, lease_seconds=30)
    assert [(event.id, event.attempts) for event in later] == [(second[0].id, 3)]


def test_delivered_event_is_final(store: SqlStore, database_url: str) -> None:
    store.save_connected("cust-1", new_tokens(), now=NOW)
    (event,) = store.claim_events(limit=10, now=NOW, lease_seconds=30)
    store.mark_event_delivered(event.id, now=NOW + 1)
    store.mark_event_failed(event.id, error="late failure", next_attempt_at=NOW, now=NOW + 2)
    assert store.claim_events(limit=10, now=NOW + 10_000, lease_seconds=30) == []
    with raw_connection(database_url) as conn:
        stored = conn.execute(select(outbox_events)).one()
    assert (stored.delivered_at, stored.last_error) == (NOW + 1, None)


LINK = "link-0123456789abcdef-recognisable"
AUTHORIZE_URL = "https://id.centraldispatch.com/connect/authorize?state=" + STATE
BROWSER = "browser-0123456789abcdef-recognisable"


def _attach(store: SqlStore, pending: PendingAuthorization, link: str = LINK) -> None:
    store.attach_connect_link(
        pending.id, link=SecretStr(link), authorize_url=SecretStr(AUTHORIZE_URL)
    )


def _open(
    store: SqlStore, link: str = LINK, *, now: float, browser: str = BROWSER
) -> OpenedLink | None:
    return store.open_connect_link(SecretStr(link), browser_secret=SecretStr(browser), now=now)


def test_connect_link_opens_once(store: SqlStore) -> None:
    _attach(store, _create(store))
    opened = _open(store, now=NOW + 1)
    assert opened is not None
    assert secret(opened.authorize_url) == AUTHORIZE_URL
    assert opened.expires_at == NOW + 600
    assert _open(store, now=NOW + 2, browser="another-browser") is None
    # Opening the link does not consume the authorization itself.
    assert store.consume_pending(SecretStr(STATE), now=NOW + 3) is not None


def test_opening_binds_the_pending_authorization_to_the_browser(store: SqlStore) -> None:
    _attach(store, _create(store))
    _open(store, now=NOW + 1)
    consumed = store.consume_pending(SecretStr(STATE), now=NOW + 2)
    assert consumed is not None
    assert consumed.browser_binding_hash == hashlib.sha256(BROWSER.encode()).hexdigest()
    assert consumed.browser_binding_hash == secret_hash(SecretStr(BROWSER))


def test_a_second_open_does_not_rebind(store: SqlStore) -> None:
    _attach(store, _create(store))
    _open(store, now=NOW + 1)
    assert _open(store, now=NOW + 2, browser="another-browser") is None
    consumed = store.consume_pending(SecretStr(STATE), now=NOW + 3)
    assert consumed is not None
    assert consumed.browser_binding_hash == secret_hash(SecretStr(BROWSER))


def test_pending_without_an_opened_link_is_not_bound(store: SqlStore) -> None:
    _attach(store, _create(store))
    consumed = store.consume_pending(SecretStr(STATE), now=NOW + 1)
    assert consumed is not None and consumed.browser_binding_hash is None


def test_connect_link_unknown_expired_or_used(store: SqlStore) -> None:
    assert _open(store, "nothing", now=NOW) is None
    _attach(store, _create(store, ttl=60))
    assert _open(store, now=NOW + 60) is None
    _attach(store, _create(store, "state-2", now=NOW), "link-2")
    assert store.consume_pending(SecretStr("state-2"), now=NOW) is not None
    assert _open(store, "link-2", now=NOW) is None
    # A link for a pending row that is gone is simply never openable.
    store.attach_connect_link("no-such-id", link=SecretStr("x"), authorize_url=SecretStr("y"))
    assert _open(store, "x", now=NOW) is None


def test_connect_link_is_hashed_and_url_encrypted(store: SqlStore, database_url: str) -> None:
    _attach(store, _create(store))
    _open(store, now=NOW + 1)
    with raw_connection(database_url) as conn:
        row = conn.execute(select(pending_authorizations)).one()
    assert row.link_hash == hashlib.sha256(LINK.encode()).hexdigest()
    assert row.browser_binding_hash == hashlib.sha256(BROWSER.encode()).hexdigest()
    assert isinstance(row.authorize_url, bytes)
    raw = b"".join(v if isinstance(v, bytes) else str(v).encode() for v in row if v is not None)
    assert LINK.encode() not in raw
    assert STATE.encode() not in raw
    assert BROWSER.encode() not in raw
    assert b"connect/authorize" not in raw
