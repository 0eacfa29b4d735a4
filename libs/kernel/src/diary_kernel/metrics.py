"""Prometheus metrics of the kernel's moving parts, shared by every service.

The names follow Prometheus conventions (`_total` counters, base units) so that one dashboard
fits every service; the `service` label comes from the process, not from each call site.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

events_appended = Counter(
    "diary_events_appended_total",
    "Events appended to the event store.",
    ["stream_type"],
    registry=REGISTRY,
)
concurrency_conflicts = Counter(
    "diary_event_store_conflicts_total",
    "Appends refused because another writer changed the stream first.",
    ["stream_type"],
    registry=REGISTRY,
)
relay_published = Counter(
    "diary_outbox_published_total",
    "Outbox records published to Kafka.",
    ["topic"],
    registry=REGISTRY,
)
relay_backlog = Gauge(
    "diary_outbox_backlog",
    "Outbox records committed but not yet published.",
    registry=REGISTRY,
)
relay_errors = Counter(
    "diary_outbox_publish_errors_total",
    "Failed attempts to publish a batch of outbox records (they are retried).",
    registry=REGISTRY,
)
projector_applied = Counter(
    "diary_projector_events_total",
    "Events handled by a projection, by outcome (applied, duplicate, ignored, dead_lettered).",
    ["projection", "outcome"],
    registry=REGISTRY,
)
consumer_lag = Gauge(
    "diary_consumer_lag",
    "Messages in a partition not yet handled by a projection (high watermark minus position).",
    ["projection", "topic", "partition"],
    registry=REGISTRY,
)
http_requests = Histogram(
    "diary_http_request_duration_seconds",
    "HTTP request duration by route and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
