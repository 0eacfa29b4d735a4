"""The projector runner against real PostgreSQL and Kafka."""

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaProducer

from diary_kernel.db import Connection, Pool
from diary_kernel.envelope import Envelope
from diary_kernel.projector import ProjectorRunner, RejectedEvent
from diary_kernel.testing import Counted, eventually, read_topic
from diary_kernel.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.infra


class CounterTotals:
    """Read model: the sum of amounts per counter. Not idempotent by itself (it adds), so only
    the runner's inbox keeps a redelivered event from counting twice."""

    name = "kernel-test.counter-totals"
    topics: Sequence[str] = (Counted.topic,)
    tables: Sequence[str] = ("counter_totals",)

    async def apply(self, conn: Connection, event: Envelope) -> None:
        counted = event.decode()
        if not isinstance(counted, Counted):
            return
        if counted.amount < 0:
            raise RejectedEvent("a counter cannot go down")
        await conn.execute(
            """INSERT INTO counter_totals (counter, total, events) VALUES ($1, $2, 1)
               ON CONFLICT (counter) DO UPDATE
               SET total = counter_totals.total + $2, events = counter_totals.events + 1""",
            counted.counter,
            counted.amount,
        )


@pytest.fixture
async def totals_pool(kernel_pool: Pool) -> Pool:
    async with kernel_pool.acquire() as conn:
        await conn.execute("CREATE TABLE counter_totals (counter text PRIMARY KEY, total bigint, events int)")
    return kernel_pool


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes | None, list]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def counted(counter: str, amount: int) -> tuple[bytes, bytes, list]:
    envelope = Envelope.wrap(Counted(counter=counter, amount=amount), source="/diary/test")
    return counter.encode(), envelope.body(), envelope.kafka_headers()


async def totals(pool: Pool) -> dict[str, tuple[int, int]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT counter, total, events FROM counter_totals")
    return {r["counter"]: (r["total"], r["events"]) for r in rows}


async def run_until(runner: ProjectorRunner, condition) -> None:  # type: ignore[no-untyped-def]
    stopping = asyncio.Event()
    task = asyncio.create_task(runner.run(stopping))
    try:
        await eventually(condition)
    finally:
        stopping.set()
        await task


async def test_a_redelivered_event_is_applied_once(
    totals_pool: Pool, kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = topic_prefix + Counted.topic
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=2)])
    first = counted("a", 5)
    await produce(kafka_bootstrap, topic, [first, first, counted("a", 1), first])
    runner = ProjectorRunner(CounterTotals(), totals_pool, kafka_bootstrap, topic_prefix=topic_prefix)
    await ensure_topics(kafka_bootstrap, runner.topic_specs())

    async def applied() -> bool:
        return (await totals(totals_pool)).get("a") == (6, 2)

    await run_until(runner, applied)
    # A restarted runner resumes after its committed offsets and re-applies nothing.
    await produce(kafka_bootstrap, topic, [first, counted("b", 2)])

    async def b_applied() -> bool:
        return "b" in await totals(totals_pool)

    await run_until(runner, b_applied)
    assert await totals(totals_pool) == {"a": (6, 2), "b": (2, 1)}


async def test_a_poison_message_goes_to_the_dead_letter_topic_and_the_partition_moves_on(
    totals_pool: Pool, kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = topic_prefix + Counted.topic
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=1)])
    runner = ProjectorRunner(
        CounterTotals(), totals_pool, kafka_bootstrap, topic_prefix=topic_prefix, retry_delay=0.01
    )
    await ensure_topics(kafka_bootstrap, runner.topic_specs())
    not_json = (b"x", b"{not json", counted("x", 1)[2])
    no_headers = (b"x", b'{"counter": "x", "amount": 1}', [])
    bad_field = (b"x", b'{"counter": "x", "amount": "lots"}', counted("x", 1)[2])
    refused = counted("x", -4)
    await produce(
        kafka_bootstrap, topic, [counted("x", 1), not_json, no_headers, bad_field, refused, counted("x", 2)]
    )

    async def good_ones_applied() -> bool:
        return (await totals(totals_pool)).get("x") == (3, 2)

    await run_until(runner, good_ones_applied)
    dead = await read_topic(kafka_bootstrap, runner.dead_letter.name, expected=4)
    assert len(dead) == 4
    reasons = [dict(r.headers)["dlq_reason"].decode() for r in dead]
    assert "not JSON" in reasons[0]
    assert "ce_id" in reasons[1]
    assert "amount" in reasons[2]
    assert "cannot go down" in reasons[3]
    first = dict(dead[0].headers)
    assert first["dlq_source_topic"].decode() == topic
    assert first["dlq_source_offset"] == b"1"
    assert dead[0].value == b"{not json"


async def test_a_rebuild_from_the_topics_equals_the_live_read_model(
    totals_pool: Pool, kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = topic_prefix + Counted.topic
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=3)])
    messages = [counted(f"k{i % 7}", i) for i in range(60)]
    await produce(kafka_bootstrap, topic, messages + messages[:10])  # with redeliveries
    runner = ProjectorRunner(CounterTotals(), totals_pool, kafka_bootstrap, topic_prefix=topic_prefix)
    await ensure_topics(kafka_bootstrap, runner.topic_specs())

    async def all_applied() -> bool:
        return sum(events for _, events in (await totals(totals_pool)).values()) == 60

    await run_until(runner, all_applied)
    live = await totals(totals_pool)

    assert await runner.rebuild() == 60
    assert await totals(totals_pool) == live

    # The live projector carries on after the rebuild without re-applying anything.
    await produce(kafka_bootstrap, topic, [counted("k0", 1000)])

    async def new_one_applied() -> bool:
        return (await totals(totals_pool))["k0"][1] == live["k0"][1] + 1

    await run_until(runner, new_one_applied)
    after = await totals(totals_pool)
    assert after["k0"] == (live["k0"][0] + 1000, live["k0"][1] + 1)
    assert {k: v for k, v in after.items() if k != "k0"} == {k: v for k, v in live.items() if k != "k0"}
