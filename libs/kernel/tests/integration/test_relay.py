"""The outbox relay against real PostgreSQL and Kafka."""

import asyncio
import random
from collections import defaultdict

import pytest

from diary_kernel.db import Pool
from diary_kernel.envelope import Envelope
from diary_kernel.eventstore import EventStore
from diary_kernel.relay import OutboxRelay, idempotent_producer
from diary_kernel.testing import Counted, eventually, read_topic
from diary_kernel.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.infra


@pytest.fixture
def store(topic_prefix: str) -> EventStore:
    return EventStore(source="/diary/test", topic_prefix=topic_prefix)


@pytest.fixture
def topic(topic_prefix: str) -> str:
    return topic_prefix + Counted.topic


async def append_new(pool: Pool, store: EventStore, stream: str, amount: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await store.append(
            conn,
            stream_id=stream,
            stream_type="counter",
            expected_version=0,
            events=[Counted(counter=stream, amount=amount)],
        )


async def test_every_event_committed_by_many_concurrent_writers_reaches_kafka_in_stream_order(
    kernel_pool: Pool, kafka_bootstrap: str, store: EventStore, topic: str
) -> None:
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=3)])
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    relay = OutboxRelay(kernel_pool, producer, sweep_interval=0.2)
    stopping = asyncio.Event()
    relay_task = asyncio.create_task(relay.run(stopping))

    writers, appends_per_writer = 16, 12
    committed: list[str] = []

    async def writer(number: int) -> None:
        stream = f"counter-{number % 5}"  # several writers share a stream: conflicts happen
        rng = random.Random(number)
        done = 0
        while done < appends_per_writer:
            async with kernel_pool.acquire() as conn:
                try:
                    async with conn.transaction():
                        version = await store.stream_version(conn, stream)
                        await store.append(
                            conn,
                            stream_id=stream,
                            stream_type="counter",
                            expected_version=version,
                            events=[Counted(counter=stream, amount=number * 100 + done)],
                        )
                        # Hold the transaction open a little so commits land out of order.
                        await asyncio.sleep(rng.random() * 0.02)
                        if rng.random() < 0.1:
                            raise RuntimeError("rolled back on purpose")
                except Exception:
                    continue
            committed.append(stream)
            done += 1

    await asyncio.gather(*(writer(n) for n in range(writers)))
    total = writers * appends_per_writer
    records = await read_topic(kafka_bootstrap, topic, expected=total, extra_wait=1.0)
    stopping.set()
    await relay_task
    await producer.stop()

    async with kernel_pool.acquire() as conn:
        stored = await conn.fetch("SELECT event_id::text AS id, stream_id, version FROM events")
        unpublished = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    received = [Envelope.from_kafka(r.headers, r.value) for r in records]
    assert len(stored) == total
    assert {row["id"] for row in stored} <= {e.id for e in received}
    assert unpublished == 0
    # Per stream (= Kafka key), versions arrive in order.
    version_of = {row["id"]: row["version"] for row in stored}
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for record, envelope in zip(records, received, strict=True):
        by_key[record.key].append(version_of[envelope.id])
    for versions in by_key.values():
        deduplicated = list(dict.fromkeys(versions))
        assert deduplicated == sorted(deduplicated)


async def test_events_committed_while_no_relay_runs_are_published_when_one_starts(
    kernel_pool: Pool, kafka_bootstrap: str, store: EventStore, topic: str
) -> None:
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=1)])
    for i in range(20):
        await append_new(kernel_pool, store, f"c{i}", i)
    assert await read_topic(kafka_bootstrap, topic, expected=1, timeout=1.0) == []

    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    try:
        relay = OutboxRelay(kernel_pool, producer)
        assert await relay.backlog() == 20
        assert await relay.publish_pending() == 20
        assert await relay.backlog() == 0
    finally:
        await producer.stop()
    records = await read_topic(kafka_bootstrap, topic, expected=20)
    assert sorted(Envelope.from_kafka(r.headers, r.value).data["amount"] for r in records) == list(range(20))


async def test_only_one_relay_publishes_per_database(
    kernel_pool: Pool, kafka_bootstrap: str, store: EventStore, topic: str
) -> None:
    """Two replicas of a service: the second waits, and takes over when the first stops."""
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=1)])
    producer = idempotent_producer(kafka_bootstrap)
    await producer.start()
    first_stop, second_stop = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(OutboxRelay(kernel_pool, producer, sweep_interval=0.1).run(first_stop))
    await asyncio.sleep(0.3)
    second = asyncio.create_task(OutboxRelay(kernel_pool, producer, sweep_interval=0.1).run(second_stop))

    await append_new(kernel_pool, store, "r1", 1)
    first_stop.set()
    await first
    await append_new(kernel_pool, store, "r2", 2)

    async def all_published() -> bool:
        async with kernel_pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))

    await eventually(all_published)
    second_stop.set()
    await second
    await producer.stop()
    records = await read_topic(kafka_bootstrap, topic, expected=2)
    assert len(records) == 2
