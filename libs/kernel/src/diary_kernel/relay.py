"""The outbox relay: publishes what the event store committed, in order, at least once.

It sweeps the outbox for rows not yet marked published instead of following a high-water mark,
so a row whose transaction commits late is picked up on the next sweep rather than passed over,
and a crash between commit and publish only delays a row: the next relay publishes it. Rows are
sent in (transaction, id) order with an idempotent producer (acks=all), which keeps the order of
each aggregate's events within its partition. A crash after the send but before the rows are
marked re-sends them; consumers drop the duplicates by CloudEvents id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from asyncpg import Record

from diary_kernel import metrics
from diary_kernel.db import Connection, Pool
from diary_kernel.eventstore import OUTBOX_CHANNEL

log = logging.getLogger(__name__)

_LEADER_LOCK = int.from_bytes(hashlib.sha256(b"diary-outbox-relay").digest()[:8], "big", signed=True)


def idempotent_producer(bootstrap_servers: str, **overrides: Any) -> AIOKafkaProducer:
    """The producer every publisher of domain events uses: no loss, no reordering on retry."""
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 2,
        "max_batch_size": 256 * 1024,
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


class OutboxRelay:
    """Moves outbox rows to Kafka. One relay per database publishes at a time (advisory lock);
    others wait as hot standbys."""

    def __init__(
        self,
        pool: Pool,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        sweep_interval: float = 1.0,
        retention_seconds: int = 86_400,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._batch_size = batch_size
        self._sweep_interval = sweep_interval
        self._retention_seconds = retention_seconds
        self._wakeup = asyncio.Event()

    async def publish_pending(self) -> int:
        """Publish every committed, unpublished row; returns how many were published.

        Batches are pipelined: the next one is read and handed to the producer while Kafka
        acknowledges the previous one, which is marked published only once acknowledged. Each
        read starts again from the first unpublished row (skipping only the batch in flight),
        never from a cursor: a transaction that commits behind a cursor could otherwise be
        overtaken by a later write to the same stream.
        """
        total = 0
        in_flight: tuple[list[Record], list[asyncio.Future[Any]]] | None = None
        async with self._pool.acquire() as conn:
            while True:
                rows = await conn.fetch(
                    """SELECT id, topic, key, value, headers FROM outbox
                       WHERE published_at IS NULL AND id <> ALL($1::bigint[])
                       ORDER BY tx_id, id LIMIT $2""",
                    [row["id"] for row in in_flight[0]] if in_flight else [],
                    self._batch_size,
                )
                deliveries = [
                    await self._producer.send(
                        row["topic"],
                        value=row["value"],
                        key=row["key"],
                        headers=[(name, value.encode()) for name, value in row["headers"].items()],
                    )
                    for row in rows
                ]
                if in_flight is not None:
                    total += await self._confirm(conn, *in_flight)
                if not rows:
                    break
                in_flight = (rows, deliveries)
        metrics.relay_backlog.set(0)
        return total

    async def _confirm(
        self, conn: Connection, rows: list[Record], deliveries: list[asyncio.Future[Any]]
    ) -> int:
        await asyncio.gather(*deliveries)
        await conn.execute(
            "UPDATE outbox SET published_at = clock_timestamp() WHERE id = ANY($1::bigint[])",
            [row["id"] for row in rows],
        )
        for row in rows:
            metrics.relay_published.labels(row["topic"]).inc()
        return len(rows)

    async def backlog(self) -> int:
        async with self._pool.acquire() as conn:
            count = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        metrics.relay_backlog.set(count)
        return int(count)

    async def purge_published(self) -> int:
        """Forget rows published long ago; the event store keeps the history."""
        async with self._pool.acquire() as conn:
            result = await conn.execute(
                """DELETE FROM outbox WHERE published_at IS NOT NULL
                   AND published_at < clock_timestamp() - make_interval(secs => $1)""",
                self._retention_seconds,
            )
        return int(result.split()[-1])

    async def run(self, stopping: asyncio.Event) -> None:
        """Publish until `stopping` is set: woken by NOTIFY at commit, and by a periodic sweep."""
        listener = await self._pool.acquire()
        try:
            await listener.add_listener(OUTBOX_CHANNEL, self._on_notify)
            while not stopping.is_set():
                if await listener.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_LOCK):
                    break
                await _wait_any(stopping, self._wakeup, seconds=self._sweep_interval * 5)
            log.info("outbox relay is the publisher for this database")
            sweeps = 0
            while not stopping.is_set():
                self._wakeup.clear()
                try:
                    await self.publish_pending()
                    sweeps += 1
                    if sweeps % 600 == 0:
                        await self.purge_published()
                except Exception as exc:  # Kafka or database down: rows stay, retried later
                    metrics.relay_errors.inc()
                    log.warning("outbox publish failed, will retry", extra={"error": repr(exc)})
                    await asyncio.sleep(self._sweep_interval)
                await _wait_any(stopping, self._wakeup, seconds=self._sweep_interval)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(OUTBOX_CHANNEL, self._on_notify)
                await listener.execute("SELECT pg_advisory_unlock_all()")
            await self._pool.release(listener)

    def _on_notify(self, *_: object) -> None:
        self._wakeup.set()


async def _wait_any(*events: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
