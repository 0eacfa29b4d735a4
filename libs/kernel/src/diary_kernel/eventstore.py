"""The event store on PostgreSQL, with its transactional outbox.

`append` writes a stream's new events and their outbox rows in the caller's transaction, so an
event is stored if and only if it will be published. Streams use optimistic concurrency: the
writer states the version it decided on, and a writer that lost the race gets
`ConcurrencyError` instead of silently interleaving its decision with another one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from diary_events.base import DomainEvent
from diary_kernel import metrics
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope

OUTBOX_CHANNEL = "diary_outbox"
"""NOTIFY channel that wakes the relay as soon as an append commits (see diary_append())."""


class ConcurrencyError(Exception):
    """Another writer appended to the stream since the caller read it."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id} is at version {actual}, the writer expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored, with its place in its stream and in the whole log."""

    position: int
    tx_id: int
    stream_id: str
    version: int
    event_id: uuid.UUID
    event_type: str
    data: Mapping[str, Any]
    metadata: Mapping[str, Any]
    recorded_at: datetime

    @property
    def checkpoint(self) -> LogCheckpoint:
        return LogCheckpoint(self.tx_id, self.position)


@dataclass(frozen=True, order=True)
class LogCheckpoint:
    """Where a reader of the whole log stands: (writing transaction, position).

    Positions are handed out when a row is inserted, but transactions commit in another order, so
    a reader that keeps only the highest position would pass over a row that commits late.
    Ordered by transaction id and read only below the oldest transaction still running, the log
    is a prefix that never grows in the middle.
    """

    tx_id: int = 0
    position: int = 0


START = LogCheckpoint()


class EventStore:
    """Append and read event streams; `source` is this service's CloudEvents source.

    `topic_prefix` namespaces the topics events are published to (an environment sharing a
    cluster, or a test), without changing the contracts' topic names.
    """

    def __init__(self, source: str, *, topic_prefix: str = "") -> None:
        self.source = source
        self.topic_prefix = topic_prefix

    async def append(
        self,
        conn: Connection,
        *,
        stream_id: str,
        stream_type: str,
        expected_version: int,
        events: Sequence[DomainEvent],
        subject: str | None = None,
        extensions: Mapping[str, str] | None = None,
    ) -> int:
        """Append `events` after `expected_version` (0 for a new stream); returns the new version.

        Must run inside a transaction the caller commits: the events, the stream's version and the
        outbox rows become visible together or not at all.
        """
        if not events:
            return expected_version
        if not conn.is_in_transaction():
            raise RuntimeError("EventStore.append must run inside a transaction")
        # CloudEvents `sequence` extension: the event's version in its stream, so a consumer can
        # tell an aggregate's events apart from a redelivery or a reordering.
        envelopes = [
            Envelope.wrap(
                event,
                source=self.source,
                subject=subject or stream_id,
                extensions={**(extensions or {}), "sequence": str(expected_version + index + 1)},
            )
            for index, event in enumerate(events)
        ]
        result = await conn.fetchval(
            "SELECT diary_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            stream_id,
            stream_type,
            expected_version,
            [uuid.UUID(envelope.id) for envelope in envelopes],
            [envelope.type for envelope in envelopes],
            [envelope.data for envelope in envelopes],
            [{"source": envelope.source, **dict(envelope.extensions)} for envelope in envelopes],
            [envelope.time for envelope in envelopes],
            [self.topic_prefix + event.topic for event in events],
            [envelope.body() for envelope in envelopes],
            [{name: value.decode() for name, value in envelope.kafka_headers()} for envelope in envelopes],
        )
        if result < 0:
            metrics.concurrency_conflicts.labels(stream_type).inc()
            raise ConcurrencyError(stream_id, expected_version, -1 - result)
        metrics.events_appended.labels(stream_type).inc(len(events))
        return int(result)

    async def read_stream(self, conn: Connection, stream_id: str) -> list[RecordedEvent]:
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY version", stream_id
        )
        return [_recorded(row) for row in rows]

    async def stream_version(self, conn: Connection, stream_id: str) -> int:
        return await self._version(conn, stream_id)

    async def read_all(
        self, conn: Connection, after: LogCheckpoint = START, limit: int = 1000
    ) -> list[RecordedEvent]:
        """Events after `after` in commit-safe order, never skipping one that commits late."""
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS} FROM events
                WHERE (tx_id, position) > ($1::text::xid8, $2)
                  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
                ORDER BY tx_id, position
                LIMIT $3""",
            str(after.tx_id),
            after.position,
            limit,
        )
        return [_recorded(row) for row in rows]

    @staticmethod
    async def _version(conn: Connection, stream_id: str) -> int:
        version = await conn.fetchval("SELECT version FROM event_streams WHERE stream_id = $1", stream_id)
        return int(version or 0)


_COLUMNS = (
    "position, tx_id::text::bigint AS tx_id, stream_id, version, event_id, event_type, data, "
    "metadata, recorded_at"
)


def _recorded(row: Any) -> RecordedEvent:
    return RecordedEvent(
        position=row["position"],
        tx_id=row["tx_id"],
        stream_id=row["stream_id"],
        version=row["version"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        data=row["data"],
        metadata=row["metadata"],
        recorded_at=row["recorded_at"],
    )
