"""Signed webhooks delivered from the durable outbox (at least once, with backoff).

The store writes each connection event into its outbox in the same transaction as the status
change, so an event can neither be lost nor announced for a change that rolled back. This module
drains that outbox: it claims due events (a short lease, so several processes never send the
same event at once), POSTs them to the vendor's URL signed with HMAC-SHA256, and marks them
delivered, or failed with an exponentially growing retry delay. A crash mid-delivery only lets
the lease run out: the event is sent again later. Receivers dedupe on the event id.

Receivers check deliveries with :func:`verify_signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from cdconnect.metrics import WEBHOOK_DELIVERIES
from cdconnect.models import Clock, EventType
from cdconnect.oauth.transport import ssl_context
from cdconnect.settings import Settings
from cdconnect.vault.api import OutboxEvent

log = logging.getLogger("cdconnect.webhooks")

SIGNATURE_HEADER = "CDConnect-Signature"
EVENT_ID_HEADER = "CDConnect-Event-Id"
EVENT_TYPE_HEADER = "CDConnect-Event-Type"
#: Default for :func:`verify_signature`: how old (or how far in the future) a signature may be.
DEFAULT_TOLERANCE = 300.0

#: The events the service announces; others in the outbox are marked done without sending.
WEBHOOK_EVENTS = frozenset(
    {
        EventType.CONNECTED,
        EventType.REAUTH_REQUIRED,
        EventType.DISCONNECTED,
        EventType.RECOVERED,
    }
)


class OutboxStore(Protocol):
    """The part of :class:`~cdconnect.vault.api.ConnectionStore` that delivery needs."""

    def claim_events(
        self, *, limit: int, now: float, lease_seconds: float
    ) -> list[OutboxEvent]: ...

    def mark_event_delivered(self, event_id: str, *, now: float) -> None: ...

    def mark_event_failed(
        self, event_id: str, *, error: str, next_attempt_at: float, now: float
    ) -> None: ...


# -- signing ------------------------------------------------------------------------------------


def _secret_bytes(secret: SecretStr | str | bytes) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _body_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def compute_signature(secret: SecretStr | str | bytes, timestamp: int, body: bytes | str) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + _body_bytes(body)
    return hmac.new(_secret_bytes(secret), message, hashlib.sha256).hexdigest()


def signature_header(secret: SecretStr | str | bytes, timestamp: int, body: bytes | str) -> str:
    """The ``CDConnect-Signature`` value: ``t=<unix seconds>,v1=<hex hmac>``."""
    return f"t={timestamp},v1={compute_signature(secret, timestamp, body)}"


def verify_signature(
    secret: SecretStr | str | bytes,
    header: str | None,
    body: bytes | str,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> bool:
    """True iff ``header`` signs exactly ``body`` with ``secret`` within ``tolerance`` seconds.

    ``body`` must be the raw request body as received (not re-serialised JSON). Several ``v1=``
    entries are accepted (any one matching suffices), so a sender may sign with an old and a new
    secret while the secret is rotated. The timestamp bound stops replays of old deliveries.
    """
    timestamp, candidates = _parse_signature_header(header or "")
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = compute_signature(secret, timestamp, body).encode("ascii")
    matched = False
    for candidate in candidates:
        # Bytes: compare_digest refuses non-ASCII str, and the header is untrusted input.
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "surrogatepass"))
    return matched


def _parse_signature_header(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    return timestamp, candidates


# -- payloads -----------------------------------------------------------------------------------


def event_payload(event: OutboxEvent) -> bytes:
    """The JSON body of a delivery (compact, keys sorted; never holds token values)."""
    document: dict[str, Any] = {
        "id": event.id,
        "type": event.type.value,
        "occurred_at": event.occurred_at,
        "external_id": event.external_id,
        "connection_id": event.connection_id,
        "data": dict(event.data),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def backoff_delay(attempts: int, *, base: float, cap: float, jitter: float = 1.0) -> float:
    """Delay before the next try after ``attempts`` failed tries: ``base·2^(attempts-1)``,
    capped at ``cap``, scaled by ``jitter`` (0.5-1.0 spreads retries of many events)."""
    exponent = min(max(attempts - 1, 0), 32)  # 2**32·base is far beyond any sane cap
    delay: float = min(cap, base * 2.0**exponent) * jitter
    return delay


# -- delivery -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Where and how to deliver. ``url`` may embed a token, so it is kept out of the repr."""

    url: str
    secret: SecretStr
    timeout: float = 10.0
    batch: int = 50
    #: How long a claimed event stays invisible to other deliverers while we send it.
    lease_seconds: float = 60.0
    base_delay: float = 5.0
    max_delay: float = 3600.0
    #: How often the background loop looks for due events when nothing woke it.
    poll_interval: float = 2.0

    def __repr__(self) -> str:
        return f"WebhookConfig(timeout={self.timeout}, batch={self.batch})"


def webhook_config_from_settings(settings: Settings) -> WebhookConfig | None:
    """``CDCONNECT_WEBHOOK_URL`` + ``CDCONNECT_WEBHOOK_SECRET``, or None when not configured."""
    if settings.webhook_url is None or settings.webhook_secret is None:
        return None
    return WebhookConfig(url=settings.webhook_url, secret=settings.webhook_secret)


def build_webhook_client(settings: Settings, config: WebhookConfig) -> httpx.Client:
    """An HTTP client trusting the same CAs as the rest of cdconnect (plus ``ca_file``).

    Redirects are not followed: a receiver that moved must be reconfigured, not guessed at.
    """
    return httpx.Client(
        timeout=config.timeout, verify=ssl_context(settings), follow_redirects=False
    )


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one pass over the outbox did."""

    delivered: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def claimed(self) -> int:
        return self.delivered + self.failed + self.skipped


class WebhookDeliverer:
    """Sends due outbox events once per :meth:`deliver_due` call (thread-safe per instance)."""

    def __init__(
        self,
        store: OutboxStore,
        config: WebhookConfig,
        *,
        http: httpx.Client | None = None,
        clock: Clock = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._config = config
        self._http = http or httpx.Client(timeout=config.timeout)
        self._owns_http = http is None
        self._clock = clock
        self._rng = rng or random.Random()  # jitter, not security
        self._guard = threading.Lock()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def deliver_due(self) -> DeliveryReport:
        """Claim up to ``batch`` due events and try each once."""
        with self._guard:
            events = self._store.claim_events(
                limit=self._config.batch,
                now=self._clock(),
                lease_seconds=self._config.lease_seconds,
            )
            delivered = failed = skipped = 0
            for event in events:
                outcome = self._deliver(event)
                WEBHOOK_DELIVERIES.labels(result=outcome).inc()
                delivered += outcome == "delivered"
                failed += outcome == "failed"
                skipped += outcome == "skipped"
            return DeliveryReport(delivered, failed, skipped)

    def _deliver(self, event: OutboxEvent) -> str:
        if event.type not in WEBHOOK_EVENTS:
            self._store.mark_event_delivered(event.id, now=self._clock())
            return "skipped"
        error = self._post(event)
        now = self._clock()
        if error is None:
            self._store.mark_event_delivered(event.id, now=now)
            log.info("webhook %s %s delivered", event.type.value, event.id)
            return "delivered"
        delay = backoff_delay(
            event.attempts,
            base=self._config.base_delay,
            cap=self._config.max_delay,
            jitter=self._rng.uniform(0.5, 1.0),
        )
        self._store.mark_event_failed(event.id, error=error, next_attempt_at=now + delay, now=now)
        log.warning(
            "webhook %s %s failed (attempt %d: %s); next try in %.0fs",
            event.type.value,
            event.id,
            event.attempts,
            error,
            delay,
        )
        return "failed"

    def _post(self, event: OutboxEvent) -> str | None:
        """Send one event; None on a 2xx answer, else a short error text (no response body)."""
        body = event_payload(event)
        headers = self._headers(event, body)
        try:
            response = self._http.post(self._config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if response.is_success:
            return None
        return f"HTTP {response.status_code}"

    def _headers(self, event: OutboxEvent, body: bytes) -> Mapping[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": "cdconnect-webhooks",
            EVENT_ID_HEADER: event.id,
            EVENT_TYPE_HEADER: event.type.value,
            SIGNATURE_HEADER: signature_header(self._config.secret, int(self._clock()), body),
        }


class WebhookLoop:
    """Runs :meth:`WebhookDeliverer.deliver_due` in a background thread until stopped.

    It polls every ``poll_interval`` seconds, and at once when :meth:`wake` is called (the service
    wakes it on every in-process connection event, so webhooks leave within milliseconds).
    """

    def __init__(self, deliverer: WebhookDeliverer, *, poll_interval: float) -> None:
        self._deliverer = deliverer
        self._poll_interval = poll_interval
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the webhook loop is already running")
        self._thread = threading.Thread(target=self._run, name="cdconnect-webhooks", daemon=True)
        self._thread.start()

    def wake(self, *_: object) -> None:
        """Look for due events now (usable directly as an event callback)."""
        self._wakeup.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the pass in progress (bounded by the HTTP timeout) and stop."""
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                report = self._deliverer.deliver_due()
            except Exception:
                # A database hiccup must not kill delivery for the life of the process.
                log.exception("webhook delivery pass failed")
                report = DeliveryReport()
            if report.claimed == 0 or report.failed:
                self._wakeup.wait(self._poll_interval)
