"""Publishing generated schools to the registry topic, as the school registry would.

Sends are pipelined (one producer, batches filled while Kafka acknowledges earlier ones) so a
city of ~1.5M records goes out in minutes; the idempotent producer keeps each school's records
in order even when a batch is retried.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from diary_events.registry import REGISTRY_ROSTER_TOPIC, RegistryRecord
from diary_kernel.envelope import Envelope
from diary_kernel.relay import idempotent_producer
from diary_kernel.topics import ensure_topics
from gradebook.bootstrap import TOPICS
from gradebook.demo.generator import CityGenerator, School

SOURCE = "/registry/paragraph"
RECORD_IDS = uuid.UUID("b7c5e0d2-61a4-5e8f-9c3b-0a1d2e3f4c5b")
IN_FLIGHT = 20_000  # deliveries awaited at once; bounds memory at city scale


@dataclass
class Published:
    records: int = 0
    bytes: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def envelope(record: RegistryRecord, sent_at: datetime | None = None) -> Envelope:
    """The CloudEvent for a record; its id is derived from the record and revision, so a re-sent
    record is recognisably the same message."""
    wrapped = Envelope.wrap(record, source=SOURCE, time=sent_at)
    event_id = uuid.uuid5(RECORD_IDS, record.event_type + wrapped.body().decode())
    return replace(wrapped, id=str(event_id))


def roster_topic(prefix: str = "") -> str:
    """The registry topic under a namespace, as DIARY_KAFKA_TOPIC_PREFIX makes the services read it."""
    return prefix + REGISTRY_ROSTER_TOPIC


async def publish(
    bootstrap_servers: str,
    records: Iterable[tuple[RegistryRecord, datetime | None]],
    *,
    topic_prefix: str = "",
    create_topic: bool = True,
    producer_options: dict[str, Any] | None = None,
) -> Published:
    """Send `(record, sent_at)` pairs in order, keyed by school; returns counts once all are acked."""
    topic = roster_topic(topic_prefix)
    if create_topic:
        # Declared as the gradebook declares it; whoever starts first creates it.
        spec = next(t for t in TOPICS if t.name == REGISTRY_ROSTER_TOPIC)
        await ensure_topics(bootstrap_servers, [replace(spec, name=topic)])
    options = {"linger_ms": 20, "max_batch_size": 512 * 1024, "request_timeout_ms": 60_000}
    producer = idempotent_producer(bootstrap_servers, **(options | (producer_options or {})))
    await producer.start()
    stats = Published()
    started = time.perf_counter()
    pending: list[asyncio.Future[Any]] = []
    try:
        for record, sent_at in records:
            env = envelope(record, sent_at)
            body = env.body()
            pending.append(
                await producer.send(
                    topic, value=body, key=str(record.school_id).encode(), headers=env.kafka_headers()
                )
            )
            stats.records += 1
            stats.bytes += len(body)
            if len(pending) >= IN_FLIGHT:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    stats.seconds = time.perf_counter() - started
    return stats


def school_records(
    generator: CityGenerator, school: School
) -> Iterator[tuple[RegistryRecord, datetime | None]]:
    """A school's roster as first sent (now), then the day's changes stamped with their day."""
    for record in generator.roster(school):
        yield record, None
    sent_at = generator.changes_time(school)
    for record in generator.roster_changes(school):
        yield record, sent_at


def city_records(
    generator: CityGenerator, schools: Iterable[School]
) -> Iterator[tuple[RegistryRecord, datetime | None]]:
    for school in schools:
        yield from school_records(generator, school)
