"""Topics declared in code and created at start-up, so partitions and retention are reviewed
with the code that relies on them instead of living only in a broker's state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 3
    replication_factor: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


def dead_letter_topic(projection: str) -> TopicSpec:
    """Where a projection parks what it can never process; kept long enough to investigate."""
    return TopicSpec(f"{projection}.dlq", partitions=1, config={"retention.ms": str(30 * 86_400_000)})


async def ensure_topics(bootstrap_servers: str, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    specs = list(specs)
    if not specs:
        return []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        created: list[str] = []
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=spec.name,
                        num_partitions=spec.partitions,
                        replication_factor=spec.replication_factor,
                        topic_configs=dict(spec.config),
                    )
                    for spec in missing
                ]
            )
            for name, code, *rest in response.topic_errors:
                error = for_code(code)
                if code == 0:
                    created.append(name)
                elif error is not TopicAlreadyExistsError:
                    detail = rest[0] if rest else ""
                    raise RuntimeError(f"cannot create topic {name}: {error.__name__} {detail}")
        if created:
            log.info("created topics", extra={"topics": created})
            await _wait_for_metadata(admin, created)
        return created
    finally:
        await admin.close()


async def _wait_for_metadata(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    for _ in range(50):
        if set(names) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)


async def partitions_of(bootstrap_servers: str, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of `topics`, asked of the cluster (a consumer knows only its assignment)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return sorted(
        TopicPartition(topic["topic"], part["partition"])
        for topic in described
        for part in topic["partitions"]
    )
