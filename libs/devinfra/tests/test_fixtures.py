"""The pytest plugin's fixtures give working, real servers."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from diary_devinfra.pytest_plugin import Infra, TopicFactory

_seen_databases: list[str] = []


async def test_kafka_round_trip(topic_factory: TopicFactory, kafka_bootstrap: str) -> None:
    topic = await topic_factory("devinfra.roundtrip")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"hello", key=b"k1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic}-reader",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"k1", b"hello")
    assert (message.partition, message.offset) == (sent.partition, sent.offset)


async def test_topic_factory_makes_unique_topics_as_asked(
    topic_factory: TopicFactory, kafka_bootstrap: str
) -> None:
    first = await topic_factory("devinfra.same", partitions=2, config={"retention.ms": "60000"})
    second = await topic_factory("devinfra.same")
    assert first != second
    assert first.startswith("devinfra.same-")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics([first, second])}
    finally:
        await admin.close()
    assert len(described[first]["partitions"]) == 2
    assert len(described[second]["partitions"]) == 3


async def test_postgres_dsn_is_a_fresh_database(postgres_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        name = await conn.fetchval("SELECT current_database()")
        tables = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    assert name.startswith("t_")
    assert tables == 0


async def _database_exists(infra: Infra, name: str) -> bool:
    conn = await asyncpg.connect(infra.postgres_admin_dsn)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def test_each_test_gets_its_own_database_first(postgres_dsn: str, infra: Infra) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        await conn.execute("CREATE TABLE marker (id int)")
        _seen_databases.append(await conn.fetchval("SELECT current_database()"))
    finally:
        await conn.close()


async def test_each_test_gets_its_own_database_second(postgres_dsn: str, infra: Infra) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        name = await conn.fetchval("SELECT current_database()")
        has_marker = await conn.fetchval("SELECT to_regclass('marker') IS NOT NULL")
    finally:
        await conn.close()
    assert _seen_databases, "runs after ..._first (file order)"
    assert name != _seen_databases[-1]
    assert not has_marker
    assert not await _database_exists(infra, _seen_databases[-1]), "dropped after its test"


def test_infra_dsn_for_keeps_server_and_credentials(infra: Infra) -> None:
    dsn = infra.dsn_for("gradebook")
    assert dsn.endswith("/gradebook")
    assert dsn.rsplit("/", 1)[0] == infra.postgres_admin_dsn.rsplit("/", 1)[0]
