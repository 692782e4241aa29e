"""Prometheus metrics, defined once per process on the default registry.

Labels carry outcomes and event types only, never external ids or anything secret.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REFRESHES = Counter(
    "cdconnect_refreshes",
    "Slow-path token resolutions by outcome (rotated, adopted, stored, degraded, reauth_required,"
    " failed).",
    ["outcome"],
)
REFRESH_SECONDS = Histogram(
    "cdconnect_refresh_seconds",
    "Time to resolve a token on the slow path (includes lease waits and the token request).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LEASE_WAITS = Counter(
    "cdconnect_lease_waits",
    "Polls while another worker held a connection's refresh lease.",
)
TOKEN_REQUESTS = Counter(
    "cdconnect_token_requests",
    "Requests to the token endpoint by grant type and result.",
    ["grant", "result"],
)
EVENTS = Counter(
    "cdconnect_events",
    "Connection events emitted in this process, by type.",
    ["type"],
)
WEBHOOK_DELIVERIES = Counter(
    "cdconnect_webhook_deliveries",
    "Webhook delivery attempts by result.",
    ["result"],
)
