"""Webhooks: signatures, backoff, delivery from the real outbox, and the service's loop."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from cdconnect.manager import ConnectionManager, open_manager
from cdconnect.models import EventType
from cdconnect.sandbox import SandboxServer
from cdconnect.testing import OffsetClock
from cdconnect.vault.api import OutboxEvent
from cdconnect.web import create_app
from cdconnect.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    WebhookConfig,
    WebhookDeliverer,
    backoff_delay,
    event_payload,
    signature_header,
    verify_signature,
)
from tests.web.conftest import ADMIN, ServiceDriver, web_settings_for
from tests.web.receiver import Delivery, Receiver, running_receiver

SECRET = "whsec-test-0123456789"
NOW = 1_800_000_000.0
BODY = b'{"id":"e1","type":"connection.connected"}'


# -- signatures ---------------------------------------------------------------------------------


def test_a_signature_verifies_with_the_secret_in_any_form() -> None:
    header = signature_header(SECRET, int(NOW), BODY)
    assert header.startswith(f"t={int(NOW)},v1=")
    for secret in (SECRET, SECRET.encode(), SecretStr(SECRET)):
        assert verify_signature(secret, header, BODY, now=NOW)
    assert verify_signature(SECRET, header, BODY.decode(), now=NOW)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("another-secret", BODY, NOW),
        (SECRET, BODY + b" ", NOW),
        (SECRET, BODY.replace(b"connected", b"disconnected"), NOW),
        (SECRET, BODY, NOW + 301),
        (SECRET, BODY, NOW - 301),
    ],
    ids=["wrong-secret", "extra-byte", "tampered", "too-old", "from-the-future"],
)
def test_a_signature_fails_for_anything_else(secret: str, body: bytes, now: float) -> None:
    assert not verify_signature(secret, signature_header(SECRET, int(NOW), BODY), body, now=now)


def test_the_tolerance_is_adjustable_and_several_v1_entries_are_accepted() -> None:
    header = signature_header(SECRET, int(NOW), BODY)
    assert verify_signature(SECRET, header, BODY, tolerance=1000, now=NOW + 900)
    old = signature_header("old-secret", int(NOW), BODY).split(",")[1]
    assert verify_signature(SECRET, f"{header},{old}", BODY, now=NOW)
    assert verify_signature("old-secret", f"{header},{old}", BODY, now=NOW)


@pytest.mark.parametrize(
    "header",
    [None, "", "t=,v1=", "v1=abc", f"t={int(NOW)}", f"t=abc,v1={'0' * 64}", "t=1e9,v1=x", "\u00e9"],
)
def test_malformed_signature_headers_are_refused(header: str | None) -> None:
    assert not verify_signature(SECRET, header, BODY, now=NOW)


@given(header=st.text(max_size=200), body=st.binary(max_size=200))
def test_verify_signature_never_raises(header: str, body: bytes) -> None:
    assert verify_signature(SECRET, header, body, now=NOW) in (True, False)


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    delays = [backoff_delay(attempt, base=5, cap=3600) for attempt in range(1, 12)]
    assert delays[:5] == [5, 10, 20, 40, 80]
    assert delays[-1] == 3600
    assert backoff_delay(10_000, base=5, cap=3600, jitter=0.5) == 1800
    assert backoff_delay(0, base=5, cap=3600) == 5


# -- delivery against an in-memory outbox and httpx.MockTransport ---------------------------------


class MemoryOutbox:
    """The outbox contract in memory (the real store is exercised further below)."""

    def __init__(self, *events: OutboxEvent) -> None:
        self.events = {event.id: event for event in events}

    def claim_events(self, *, limit: int, now: float, lease_seconds: float) -> list[OutboxEvent]:
        due = [
            e for e in self.events.values() if e.delivered_at is None and e.next_attempt_at <= now
        ][:limit]
        for event in due:
            self.events[event.id] = dataclasses.replace(
                event, attempts=event.attempts + 1, next_attempt_at=now + lease_seconds
            )
        return [self.events[event.id] for event in due]

    def mark_event_delivered(self, event_id: str, *, now: float) -> None:
        self.events[event_id] = dataclasses.replace(self.events[event_id], delivered_at=now)

    def mark_event_failed(
        self, event_id: str, *, error: str, next_attempt_at: float, now: float
    ) -> None:
        self.events[event_id] = dataclasses.replace(
            self.events[event_id], last_error=error, next_attempt_at=next_attempt_at
        )


def outbox_event(event_id: str = "e1", type_: EventType = EventType.CONNECTED) -> OutboxEvent:
    return OutboxEvent(
        id=event_id,
        type=type_,
        connection_id="c1",
        external_id="acme",
        occurred_at=NOW - 1,
        data={"generation": 1},
        attempts=0,
        next_attempt_at=NOW - 1,
        delivered_at=None,
        last_error=None,
    )


def config(
    url: str = "https://hooks.example/cd", *, base_delay: float = 5.0, poll_interval: float = 2.0
) -> WebhookConfig:
    return WebhookConfig(
        url=url, secret=SecretStr(SECRET), base_delay=base_delay, poll_interval=poll_interval
    )


def test_payload_is_compact_sorted_json_without_tokens() -> None:
    body = event_payload(outbox_event())
    assert json.loads(body) == {
        "id": "e1",
        "type": "connection.connected",
        "occurred_at": NOW - 1,
        "external_id": "acme",
        "connection_id": "c1",
        "data": {"generation": 1},
    }
    assert body == event_payload(outbox_event())
    assert b" " not in body


def test_a_failed_delivery_is_retried_later_with_backoff() -> None:
    answers = iter([500, 200])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(next(answers))

    store = MemoryOutbox(outbox_event())
    clock = OffsetClock(NOW - time.time())
    http = httpx.Client(transport=httpx.MockTransport(handler))
    deliverer = WebhookDeliverer(store, config(base_delay=10), http=http, clock=clock)
    report = deliverer.deliver_due()
    assert (report.delivered, report.failed) == (0, 1)
    failed = store.events["e1"]
    assert failed.last_error == "HTTP 500"
    assert clock() + 5 - 1 <= failed.next_attempt_at <= clock() + 10 + 1
    assert deliverer.deliver_due().claimed == 0
    clock.advance(11)
    assert deliverer.deliver_due().delivered == 1
    assert store.events["e1"].delivered_at is not None
    assert deliverer.deliver_due().claimed == 0
    assert [r.headers[EVENT_ID_HEADER] for r in seen] == ["e1", "e1"]
    for request in seen:
        assert request.headers["content-type"] == "application/json"
        signature = request.headers[SIGNATURE_HEADER]
        assert verify_signature(SECRET, signature, request.content, now=clock())


def test_transport_errors_count_as_failures() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    store = MemoryOutbox(outbox_event())
    http = httpx.Client(transport=httpx.MockTransport(handler))
    report = WebhookDeliverer(store, config(), http=http, clock=lambda: NOW).deliver_due()
    assert report.failed == 1
    assert store.events["e1"].last_error == "ConnectError"
    assert store.events["e1"].delivered_at is None


def test_events_that_are_not_webhooks_are_marked_done_unsent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing must be sent")

    store = MemoryOutbox(outbox_event("r1", EventType.REFRESHED))
    http = httpx.Client(transport=httpx.MockTransport(handler))
    report = WebhookDeliverer(store, config(), http=http, clock=lambda: NOW).deliver_due()
    assert (report.skipped, report.claimed) == (1, 1)
    assert store.events["r1"].delivered_at == NOW


def test_redirects_are_not_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "https://elsewhere.example/"})

    store = MemoryOutbox(outbox_event())
    http = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)
    report = WebhookDeliverer(store, config(), http=http, clock=lambda: NOW).deliver_due()
    assert report.failed == 1
    assert store.events["e1"].last_error == "HTTP 302"


# -- the real outbox (SqlStore) and a loopback receiver -------------------------------------------


def check_delivery(delivery: Delivery, type_: str, external_id: str = "acme") -> dict[str, object]:
    assert delivery.path == "/hooks"
    assert verify_signature(SECRET, delivery.headers[SIGNATURE_HEADER.lower()], delivery.body)
    body: dict[str, object] = json.loads(delivery.body)
    assert body["type"] == type_
    assert body["external_id"] == external_id
    assert delivery.headers[EVENT_ID_HEADER.lower()] == body["id"]
    return body


def test_outbox_events_reach_a_receiver_that_fails_first(
    driver: ServiceDriver, manager: ConnectionManager, clock: OffsetClock
) -> None:
    driver.connect("acme")
    with running_receiver([500]) as receiver, httpx.Client() as http:
        deliverer = WebhookDeliverer(
            manager.store, config(receiver.url, base_delay=30), http=http, clock=clock
        )
        assert deliverer.deliver_due().failed == 1
        assert deliverer.deliver_due().claimed == 0
        clock.advance(31)
        assert deliverer.deliver_due().delivered == 1
        assert deliverer.deliver_due().claimed == 0
    first, second = receiver.deliveries
    assert (first.answered, second.answered) == (500, 200)
    assert first.body == second.body
    body = check_delivery(second, "connection.connected")
    assert body["data"] == {"generation": 1, "scope": ["marketplace", "offline_access"]}
    assert b"access_token" not in second.body and b"refresh_token" not in second.body


def test_an_event_claimed_by_a_crashed_deliverer_is_sent_after_its_lease(
    driver: ServiceDriver, manager: ConnectionManager, clock: OffsetClock
) -> None:
    driver.connect("acme")
    claimed = manager.store.claim_events(limit=10, now=clock(), lease_seconds=60)
    assert [event.type for event in claimed] == [EventType.CONNECTED]
    # ... and that process died here, before sending.
    with running_receiver() as receiver, httpx.Client() as http:
        deliverer = WebhookDeliverer(manager.store, config(receiver.url), http=http, clock=clock)
        assert deliverer.deliver_due().claimed == 0
        clock.advance(61)
        assert deliverer.deliver_due().delivered == 1
    check_delivery(receiver.deliveries[0], "connection.connected")


def webhook_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "cdconnect-webhooks" and t.is_alive()]


def test_the_service_delivers_every_event_type_from_its_lifespan_loop(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    with running_receiver([503, 500]) as receiver:
        settings = web_settings_for(sandbox, tmp_path)
        fast = config(receiver.url, base_delay=0.02, poll_interval=0.05)
        with open_manager(settings) as manager:
            app = create_app(settings, manager, webhooks=fast)
            with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
                assert len(webhook_threads()) == 1
                driver = ServiceDriver(client, sandbox)
                driver.connect("acme")
                receiver.wait_for(1)
                sandbox.control.revoke_account("broker@example.com")
                assert (
                    client.post("/api/connections/acme/refresh", headers=ADMIN).status_code == 409
                )
                receiver.wait_for(2)
                driver.connect("acme")
                receiver.wait_for(3)
                client.delete("/api/connections/acme", headers=ADMIN)
                delivered = receiver.wait_for(4)
                metrics = client.get("/metrics").text
            assert 'cdconnect_webhook_deliveries_total{result="delivered"}' in metrics
            assert 'cdconnect_webhook_deliveries_total{result="failed"}' in metrics
            assert webhook_threads() == []
    types = [check_delivery(d, str(json.loads(d.body)["type"]))["type"] for d in delivered]
    assert types == [
        "connection.connected",
        "connection.reauth_required",
        "connection.recovered",
        "connection.disconnected",
    ]
    assert json.loads(delivered[1].body)["data"]["reason"] == "grant_revoked"
    assert len({json.loads(d.body)["id"] for d in delivered}) == 4
    assert [d.answered for d in receiver.deliveries[:3]] == [503, 500, 200]


def test_webhooks_configured_in_settings_are_delivered(
    sandbox: SandboxServer, tmp_path: Path, receiver_url: Receiver
) -> None:
    settings = web_settings_for(
        sandbox, tmp_path, webhook_url=receiver_url.url, webhook_secret=SECRET
    )
    with (
        open_manager(settings) as manager,
        TestClient(
            create_app(settings, manager), base_url="https://testserver", follow_redirects=False
        ) as client,
    ):
        ServiceDriver(client, sandbox).connect("acme")
        # Woken by the in-process event: no need to wait for the 2-second poll.
        (delivery,) = receiver_url.wait_for(1)
    check_delivery(delivery, "connection.connected")


@pytest.fixture
def receiver_url() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver
