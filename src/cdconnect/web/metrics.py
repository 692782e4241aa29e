"""The service's own Prometheus metrics, and the scrape output with the per-scrape gauges.

Library counters (refreshes, token requests, events, webhook deliveries) live in
``cdconnect.metrics`` on the default registry; connections by status are read from the database
at scrape time into a throwaway registry, so several apps in one process never collide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cdconnect.models import ConnectionStatus

HTTP_REQUESTS = Counter(
    "cdconnect_http_requests",
    "Requests served by the connect service, by method, route template and status.",
    ["method", "route", "status"],
)


class _ConnectionsCollector(Collector):
    def __init__(self, counts: Mapping[ConnectionStatus, int]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "cdconnect_connections",
            "Connections by status (read at scrape time).",
            labels=["status"],
        )
        for status in ConnectionStatus:
            gauge.add_metric([status.value], float(self._counts.get(status, 0)))
        yield gauge


def render_metrics(counts: Mapping[ConnectionStatus, int] | None) -> bytes:
    """Prometheus text: the process's metrics plus the connections gauge (left out when the
    database could not be read, rather than reporting made-up zeros)."""
    text = generate_latest(REGISTRY)
    if counts is None:
        return text
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_ConnectionsCollector(counts))
    return text + generate_latest(scrape)
