"""Prometheus metrics, registered on a registry owned by each application instance.

The process-wide default registry refuses a second metric of the same name, so building two
apps in one process (every test does) would fail; a registry per :class:`Metrics` also keeps
one app's numbers out of another's ``/metrics``.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Seconds. The API answers from memory and a local database in milliseconds, so resolution
is spent there; anything past a second is already an incident and lands in ``+Inf``."""


class Metrics:
    """The platform's metrics and the registry that exposes them.

    Label values must come from small closed sets (order sides, rejection codes, route
    templates): each distinct value is a new time series held in memory for good, so ids,
    symbols typed by users or raw paths must never become labels.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.orders_total = Counter(
            "orders_total",
            "Orders submitted, by side, type and resulting status.",
            ["side", "type", "status"],
            registry=self.registry,
        )
        self.order_rejections_total = Counter(
            "order_rejections_total",
            "Orders refused by risk checks or the exchange, by reason code.",
            ["reason"],
            registry=self.registry,
        )
        self.signals_total = Counter(
            "signals_total",
            "Inbound webhook signals, by outcome (accepted, or why not).",
            ["outcome"],
            registry=self.registry,
        )
        self.http_request_duration_seconds = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency, by method, route template and status code.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.kill_switch_active = Gauge(
            "kill_switch_active",
            "1 while the kill switch blocks new orders, else 0.",
            registry=self.registry,
        )

    def render(self) -> tuple[bytes, str]:
        """Return the exposition payload and its content type, ready for a ``/metrics`` route."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
