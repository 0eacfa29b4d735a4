"""Run every figure, print a table, write bench/results/<time>.json and latest.json.

Each figure is measured next to its raw baseline in the same run, on the same servers, with the
same message sizes and acknowledgements, and reported as a ratio: what the kernel costs on top of
the client library it is built on. Absolute numbers depend on the machine; ratios travel better.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from bench import gateway, gradebook, identity, notifications
from bench.common import concurrently, fresh_database, throughput
from bench.infra import BenchInfra, bench_infra
from diary_events.gradebook import MarkRecorded
from diary_kernel.db import create_pool, kernel_migrations, migrate, package_migrations
from diary_kernel.envelope import Envelope
from diary_kernel.eventstore import EventStore
from diary_kernel.projector import ProjectorRunner
from diary_kernel.relay import OutboxRelay, idempotent_producer
from diary_kernel.topics import TopicSpec, ensure_topics
from gradebook.adapters.diary_read_model import DiaryMarksProjection

RESULTS = Path(__file__).parent / "results"


def a_mark_event() -> MarkRecorded:
    return MarkRecorded(
        mark_id=uuid.uuid4(),
        education_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        teacher_id=uuid.uuid4(),
        lesson_date=date.today(),
        value="5",
        work_type="контрольная работа",
        weight=3,
        recorded_at=datetime.now(UTC),
    )


async def figure_append(infra: BenchInfra, n: int, workers: int) -> dict[str, Any]:
    """Event-store append (stream check + event + outbox row + notify) vs a raw INSERT."""
    dsn = await fresh_database(infra, "append")
    pool = await create_pool(dsn, max_size=workers)
    await migrate(pool, kernel_migrations())
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE raw_events (id uuid PRIMARY KEY, stream_id text, data jsonb)")
    store = EventStore("/diary/bench")
    sample = a_mark_event()

    async def kernel_append() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await store.append(
                conn,
                stream_id=f"mark-{uuid.uuid4()}",
                stream_type="mark",
                expected_version=0,
                events=[sample],
            )

    async def raw_insert() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO raw_events (id, stream_id, data) VALUES ($1, $2, $3)",
                uuid.uuid4(),
                f"mark-{uuid.uuid4()}",
                sample.model_dump(mode="json"),
            )

    await concurrently(200, workers, raw_insert)  # warm-up of both paths
    await concurrently(200, workers, kernel_append)
    raw = await concurrently(n, workers, raw_insert)
    kernel = await concurrently(n, workers, kernel_append)
    await pool.close()
    return throughput(
        "event-store append",
        "events/s",
        n,
        kernel,
        "raw asyncpg INSERT, one row per transaction",
        raw,
        events=n,
        concurrent_writers=workers,
        events_per_transaction=1,
    )


async def figure_relay(infra: BenchInfra, n: int) -> dict[str, Any]:
    """Outbox relay publish rate vs raw aiokafka produce of the same records."""
    dsn = await fresh_database(infra, "relay")
    pool = await create_pool(dsn, max_size=4)
    await migrate(pool, kernel_migrations())
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    store = EventStore("/diary/bench", topic_prefix=prefix)
    relay_topic = prefix + MarkRecorded.topic
    raw_topic = prefix + "raw"
    await ensure_topics(infra.kafka_bootstrap, [TopicSpec(relay_topic, 6), TopicSpec(raw_topic, 6)])
    async with pool.acquire() as conn:
        for start in range(0, n, 1000):
            async with conn.transaction():
                for _ in range(min(1000, n - start)):
                    await store.append(
                        conn,
                        stream_id=f"mark-{uuid.uuid4()}",
                        stream_type="mark",
                        expected_version=0,
                        events=[a_mark_event()],
                    )
        rows = await conn.fetch("SELECT key, value, headers FROM outbox ORDER BY id")
    size = statistics.mean(len(r["value"]) for r in rows)

    producer = idempotent_producer(infra.kafka_bootstrap)
    await producer.start()
    started = time.perf_counter()
    deliveries = [
        await producer.send(
            raw_topic,
            value=r["value"],
            key=r["key"],
            headers=[(k, v.encode()) for k, v in r["headers"].items()],
        )
        for r in rows
    ]
    await asyncio.gather(*deliveries)
    raw = time.perf_counter() - started

    relay = OutboxRelay(pool, producer)
    started = time.perf_counter()
    published = await relay.publish_pending()
    kernel = time.perf_counter() - started
    await producer.stop()
    await pool.close()
    assert published == n, (published, n)
    return throughput(
        "outbox relay publish",
        "records/s",
        n,
        kernel,
        "raw aiokafka produce (idempotent, acks=all), same records",
        raw,
        records=n,
        mean_value_bytes=round(size),
        partitions=6,
    )


async def figure_projector(infra: BenchInfra, n: int) -> dict[str, Any]:
    """Projector apply rate (inbox + read-model row per event, offsets after) vs raw consume."""
    dsn = await fresh_database(infra, "projector")
    pool = await create_pool(dsn, max_size=4)
    await migrate(pool, [*kernel_migrations(), *package_migrations("gradebook")])
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    projection = DiaryMarksProjection()
    topic = prefix + projection.topics[0]
    await ensure_topics(infra.kafka_bootstrap, [TopicSpec(topic, 6)])
    runner = ProjectorRunner(projection, pool, infra.kafka_bootstrap, topic_prefix=prefix)
    await ensure_topics(infra.kafka_bootstrap, runner.topic_specs())
    producer = idempotent_producer(infra.kafka_bootstrap)
    await producer.start()
    deliveries = []
    for _ in range(n):
        event = a_mark_event()
        envelope = Envelope.wrap(event, source="/diary/bench")
        deliveries.append(
            await producer.send(
                topic,
                value=envelope.body(),
                key=str(event.mark_id).encode(),
                headers=envelope.kafka_headers(),
            )
        )
    await asyncio.gather(*deliveries)
    await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    started = time.perf_counter()
    seen = 0
    while seen < n:
        batch = await consumer.getmany(timeout_ms=500, max_records=500)
        seen += sum(len(records) for records in batch.values())
    raw = time.perf_counter() - started
    await consumer.stop()

    stopping = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(runner.run(stopping))
    while True:
        async with pool.acquire() as conn:
            if await conn.fetchval("SELECT count(*) FROM diary_marks") >= n:
                break
        await asyncio.sleep(0.05)
    kernel = time.perf_counter() - started
    stopping.set()
    await task
    await pool.close()
    return throughput(
        "projector apply",
        "events/s",
        n,
        kernel,
        "raw aiokafka consume (no processing), same topic",
        raw,
        events=n,
        partitions=6,
        projection=projection.name,
    )


def table(figures: list[dict[str, Any]]) -> str:
    lines = [f"{'figure':<44} {'kernel':>14} {'baseline':>14} {'ratio':>7}"]
    for f in figures:
        if "p50" in f:
            label = f["name"].split(",")[0]
            for q in ("p50", "p99"):
                lines.append(
                    f"{label + ' ' + q:<44} {f[q]:>11.1f} ms {f['baseline_' + q]:>11.1f} ms "
                    f"{f[q] / f['baseline_' + q]:>6.2f}x"
                )
        else:
            lines.append(
                f"{f['name']:<44} {f['value']:>9.0f} {f['unit'].split('/')[0][:4]}/s "
                f"{f['baseline']:>9.0f} {f['unit'].split('/')[0][:4]}/s {f['value'] / f['baseline']:>6.2f}x"
            )
    return "\n".join(lines)


GROUPS = ("kernel", "gradebook", "identity", "gateway", "notifications")


async def main(quick: bool, only: list[str] | None = None) -> None:
    scale = 0.2 if quick else 1.0
    groups = set(only or GROUPS)
    with bench_infra() as infra:
        figures: list[dict[str, Any]] = []
        if "kernel" in groups:
            figures += [
                await figure_append(infra, int(4000 * scale), workers=8),
                await figure_relay(infra, int(20000 * scale)),
                await figure_projector(infra, int(20000 * scale)),
            ]
        if "gradebook" in groups:
            figures += [
                *await gradebook.figures_marks(infra, int(4000 * scale), lag_rate=50, lag_seconds=20 * scale),
                # Issue 3 asks for at least 100k pupils; --quick keeps the shape with a fifth of them.
                *await gradebook.figures_diary_week(
                    infra, int(100_000 * scale), weeks=1, seconds=15 * scale, import_timeout=1200
                ),
            ]
        if "identity" in groups:
            figures += await identity.figures_identity(infra, quick)
        if "gateway" in groups:
            figures += await gateway.figures_gateway(infra, quick)
        if "notifications" in groups:
            figures += await notifications.figures_notifications(infra, quick)
    for f in figures:
        if "baseline" in f:
            f["ratio"] = round(f["value"] / f["baseline"], 3)
        else:
            f["ratio_p50"] = round(f["p50"] / f["baseline_p50"], 3)
            f["ratio_p99"] = round(f["p99"] / f["baseline_p99"], 3)
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "servers": infra.description,
        "figures": figures,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, ensure_ascii=False, indent=2)
    (RESULTS / f"{stamp}.json").write_text(text)
    if only is None:  # a partial run does not replace the last full report
        (RESULTS / "latest.json").write_text(text)
    print(table(figures))
    print("\nratio = kernel / baseline (throughput: higher is better; latency: lower is better)")
    print(f"report: {RESULTS / (stamp + '.json')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--quick", action="store_true", help="a fifth of the sizes, for a smoke run")
    parser.add_argument(
        "--only", action="append", choices=GROUPS, help="only this group of figures (repeatable)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.only))
