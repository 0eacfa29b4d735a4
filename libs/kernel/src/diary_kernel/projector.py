"""The projector runner: builds read models from topics, exactly once per event.

Each event is applied in a PostgreSQL transaction that also records its CloudEvents id in
`processed_events`, so a redelivery (after a rebalance, a crash, or a relay re-send) changes
nothing. Offsets are committed to Kafka only after the transaction, so a crash re-reads rather
than loses. A message that can never be applied goes to the projection's dead-letter topic with
the reason in its headers, and the partition moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from diary_kernel import metrics
from diary_kernel.db import Connection, Pool
from diary_kernel.envelope import Envelope, MalformedEvent
from diary_kernel.topics import TopicSpec, dead_letter_topic, partitions_of

log = logging.getLogger(__name__)


class Projection(Protocol):
    """A read model: which topics feed it, which tables hold it, how an event changes it."""

    name: str
    topics: Sequence[str]
    tables: Sequence[str]

    async def apply(self, conn: Connection, event: Envelope) -> None:
        """Change the read model for one event, inside the runner's transaction.

        Raise `MalformedEvent` (or any exception) for an event that can never be applied.
        """


class RejectedEvent(MalformedEvent):
    """A well-formed event the projection refuses (e.g. refers to something it never saw)."""


_TRANSIENT = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


_BatchOutcome = tuple[int, int, list[tuple[ConsumerRecord[Any, Any], Exception]]]
"""Applied, duplicates, and the poison records with their errors."""


class ProjectorRunner:
    """Runs one projection as a Kafka consumer group named after it."""

    def __init__(
        self,
        projection: Projection,
        pool: Pool,
        bootstrap_servers: str,
        *,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
        batch_size: int = 500,
        topic_prefix: str = "",
    ) -> None:
        self.projection = projection
        self.group_id = topic_prefix + projection.name
        self.topics = [topic_prefix + topic for topic in projection.topics]
        self._pool = pool
        self._bootstrap = bootstrap_servers
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._batch_size = batch_size
        self.dead_letter = dead_letter_topic(self.group_id)
        self._next_offsets: dict[TopicPartition, int] = {}

    def topic_specs(self) -> list[TopicSpec]:
        return [self.dead_letter]

    async def run(self, stopping: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        """Consume until `stopping` is set."""
        consumer = self._consumer(group_id=self.group_id)
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all")
        await producer.start()
        await consumer.start()
        consumer.subscribe(self.topics)
        try:
            if ready is not None:
                ready.set()
            while not stopping.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=self._batch_size)
                for tp, records in batches.items():
                    await self._apply_batch(records, producer)
                    await consumer.commit({tp: records[-1].offset + 1})
                    self._next_offsets[tp] = records[-1].offset + 1
                self._report_lag(consumer)
        finally:
            await consumer.stop()
            await producer.stop()

    async def rebuild(self) -> int:
        """Replay the read model from the beginning of its topics; returns events applied.

        Run it with the live projector stopped: it empties the read-model tables and the
        projection's processed ids, applies every event up to the end offsets found at the start,
        and commits those offsets for the live group so it resumes where the rebuild ended.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            for table in self.projection.tables:
                await conn.execute(f"TRUNCATE {table}")
            await conn.execute("DELETE FROM processed_events WHERE projection = $1", self.projection.name)
        consumer = self._consumer(group_id=self.group_id)
        producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all")
        await consumer.start()
        await producer.start()
        applied = 0
        try:
            partitions = await partitions_of(self._bootstrap, self.topics)
            if not partitions:
                raise LookupError(f"topics {self.topics} do not exist: nothing to rebuild from")
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            remaining = {tp for tp in partitions if end[tp] > 0}
            while remaining:
                batches = await consumer.getmany(*remaining, timeout_ms=500)
                for tp, records in batches.items():
                    applied += await self._apply_batch([r for r in records if r.offset < end[tp]], producer)
                for tp in list(remaining):
                    if await consumer.position(tp) >= end[tp]:
                        remaining.discard(tp)
            try:
                await consumer.commit({tp: end[tp] for tp in partitions})
            except KafkaError as exc:
                # The group still has a member (a projector killed moments ago): the live
                # projector will re-read from its older offsets and skip what the rebuilt inbox
                # already holds, so this only costs a re-read.
                log.warning(
                    "rebuild could not move the live group's offsets",
                    extra={"projection": self.projection.name, "error": repr(exc)},
                )
        finally:
            await consumer.stop()
            await producer.stop()
        return applied

    async def _apply_batch(
        self, records: Sequence[ConsumerRecord[Any, Any]], producer: AIOKafkaProducer
    ) -> int:
        """Apply one partition's batch; returns events applied.

        First optimistically: one transaction, the inbox rows for the whole batch in one
        statement. If any event fails, that transaction is rolled back and the batch is applied
        carefully, each event under its own savepoint, so only the poison ones are dead-lettered.
        A lost database connection rolls back everything and the batch is tried again.
        """
        if not records:
            return 0
        name = self.projection.name
        attempt = 0
        while True:
            attempt += 1
            try:
                try:
                    applied, duplicates, dead = await self._apply_fast(records)
                except _TRANSIENT:
                    raise
                except Exception:
                    applied, duplicates, dead = await self._apply_careful(records)
            except _TRANSIENT as exc:
                log.warning(
                    "projection cannot reach its database, retrying",
                    extra={"projection": name, "error": repr(exc)},
                )
                await asyncio.sleep(min(self._retry_delay * 2**attempt, 5.0))
                continue
            for record, error in dead:
                await self._dead_letter(record, producer, error)
            metrics.projector_applied.labels(name, "applied").inc(applied)
            metrics.projector_applied.labels(name, "duplicate").inc(duplicates)
            return applied

    async def _apply_fast(self, records: Sequence[ConsumerRecord[Any, Any]]) -> _BatchOutcome:
        decoded: list[Envelope] = []
        dead: list[tuple[ConsumerRecord[Any, Any], Exception]] = []
        for record in records:
            try:
                decoded.append(Envelope.from_kafka(record.headers, record.value))
            except MalformedEvent as exc:
                dead.append((record, exc))
        applied = 0
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = set(
                await conn.fetchval(
                    """WITH inbox AS (
                           INSERT INTO processed_events (projection, event_id)
                           SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING RETURNING event_id)
                       SELECT coalesce(array_agg(event_id), '{}') FROM inbox""",
                    self.projection.name,
                    [envelope.id for envelope in decoded],
                )
            )
            for envelope in decoded:
                if envelope.id in fresh:
                    fresh.discard(envelope.id)  # the same event twice in one batch applies once
                    await self.projection.apply(conn, envelope)
                    applied += 1
        return applied, len(decoded) - applied, dead

    async def _apply_careful(self, records: Sequence[ConsumerRecord[Any, Any]]) -> _BatchOutcome:
        applied, duplicates = 0, 0
        dead: list[tuple[ConsumerRecord[Any, Any], Exception]] = []
        async with self._pool.acquire() as conn, conn.transaction():
            for record in records:
                outcome = await self._apply_one(conn, record)
                if outcome is True:
                    applied += 1
                elif outcome is False:
                    duplicates += 1
                else:
                    dead.append((record, outcome))
        return applied, duplicates, dead

    async def _apply_one(self, conn: Connection, record: ConsumerRecord[Any, Any]) -> bool | Exception:
        """True if applied, False if already applied, else the error that makes it poison."""
        try:
            envelope = Envelope.from_kafka(record.headers, record.value)
        except MalformedEvent as exc:
            return exc
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with conn.transaction():  # a savepoint inside the batch's transaction
                    fresh = await conn.fetchval(
                        """INSERT INTO processed_events (projection, event_id) VALUES ($1, $2)
                           ON CONFLICT DO NOTHING RETURNING true""",
                        self.projection.name,
                        envelope.id,
                    )
                    if not fresh:
                        return False
                    await self.projection.apply(conn, envelope)
                return True
            except _TRANSIENT:
                raise
            except MalformedEvent as exc:
                return exc
            except Exception as exc:
                if attempt == self._max_attempts:
                    return exc
                await asyncio.sleep(self._retry_delay * attempt)
        raise AssertionError("unreachable")

    async def _dead_letter(
        self, record: ConsumerRecord[Any, Any], producer: AIOKafkaProducer, error: Exception
    ) -> None:
        reason = str(error)[:2000] or type(error).__name__
        headers = [
            *(record.headers or ()),
            ("dlq_reason", reason.encode()),
            ("dlq_error_type", type(error).__name__.encode()),
            ("dlq_projection", self.projection.name.encode()),
            ("dlq_source_topic", record.topic.encode()),
            ("dlq_source_partition", str(record.partition).encode()),
            ("dlq_source_offset", str(record.offset).encode()),
        ]
        await producer.send_and_wait(
            self.dead_letter.name, value=record.value, key=record.key, headers=headers
        )
        metrics.projector_applied.labels(self.projection.name, "dead_lettered").inc()
        log.error(
            "event sent to dead-letter topic",
            extra={
                "projection": self.projection.name,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "reason": reason,
            },
        )

    def _consumer(self, group_id: str) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self._batch_size,
        )

    def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            position = self._next_offsets.get(tp)
            if highwater is None or position is None:
                continue
            metrics.consumer_lag.labels(self.projection.name, tp.topic, str(tp.partition)).set(
                max(highwater - position, 0)
            )
