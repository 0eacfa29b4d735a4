"""Prometheus metrics of notifications: what was delivered, how late, what is waiting, what failed."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from diary_kernel.metrics import REGISTRY

delivered_rows = Counter(
    "diary_notifications_planned_total",
    "Deliveries written (feed entries and e-mails to send), by channel and kind.",
    ["channel", "kind"],
    registry=REGISTRY,
)
email_latency = Histogram(
    "diary_notifications_email_latency_seconds",
    "From the source event's time to the SMTP server's acceptance, for instant e-mails.",
    registry=REGISTRY,
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
email_queue = Gauge(
    "diary_notifications_email_queue",
    "E-mails due now and not yet sent (instant ones and due digests).",
    registry=REGISTRY,
)
email_failures = Counter(
    "diary_notifications_email_failures_total",
    "Failed sending attempts, by reason; `final` says the letter was given up.",
    ["reason", "final"],
    registry=REGISTRY,
)
