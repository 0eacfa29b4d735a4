"""Helpers every figure shares: fresh databases, load generators, percentiles, the raw
Kafka latency baseline, and the two shapes of a figure (throughput, latency)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiokafka import AIOKafkaConsumer

from bench.infra import BenchInfra
from diary_devinfra.postgres import create_database, dsn_with_database
from diary_kernel.relay import idempotent_producer
from diary_kernel.topics import TopicSpec, ensure_topics


async def fresh_database(infra: BenchInfra, name: str) -> str:
    database = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    await create_database(infra.postgres_admin_dsn, database)
    return dsn_with_database(infra.postgres_admin_dsn, database)


async def concurrently(total: int, workers: int, op: Callable[[], Awaitable[None]]) -> float:
    """Run `op` `total` times over `workers` tasks; returns seconds taken."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await op()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - started


def throughput(
    name: str,
    unit: str,
    n: int,
    seconds: float,
    baseline_name: str,
    baseline_seconds: float,
    **params: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "unit": unit,
        "value": n / seconds,
        "baseline_name": baseline_name,
        "baseline": n / baseline_seconds,
        "params": params,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def open_loop(rate: float, seconds: float, op: Callable[[int], Coroutine[Any, Any, None]]) -> None:
    """Start `op` at a fixed rate whatever the previous calls do (no coordinated omission)."""
    tasks: list[asyncio.Task[None]] = []
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(op(i)))
    await asyncio.gather(*tasks)


async def raw_kafka_latency(
    infra: BenchInfra, rate: float, seconds: float, prefix: str, body: bytes
) -> list[float]:
    """Milliseconds from an acks=all produce to its consumption, at a fixed offered rate."""
    topic = prefix + "latency"
    await ensure_topics(infra.kafka_bootstrap, [TopicSpec(topic, 6)])
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=infra.kafka_bootstrap, group_id=None, auto_offset_reset="latest"
    )
    await consumer.start()
    await consumer.getmany(timeout_ms=500)
    producer = idempotent_producer(infra.kafka_bootstrap)
    await producer.start()
    sent: dict[bytes, float] = {}
    latencies: list[float] = []

    async def receive() -> None:
        while len(latencies) < int(rate * seconds):
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    if record.key in sent:
                        latencies.append((now - sent[record.key]) * 1000)

    receiver = asyncio.create_task(receive())

    async def send(i: int) -> None:
        key = f"k{i}".encode()
        sent[key] = time.perf_counter()
        await producer.send_and_wait(topic, value=body, key=key)

    await open_loop(rate, seconds, send)
    await asyncio.wait_for(receiver, timeout=60)
    await producer.stop()
    await consumer.stop()
    return latencies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
