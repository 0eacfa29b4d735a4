"""Aggregates rebuilt from their events, and the repository that loads and saves them.

The domain decides by raising events on an aggregate; nothing here touches I/O except the
repository, which is the adapter between aggregates and the event store.
"""

from __future__ import annotations

from typing import ClassVar, Generic, Self, TypeVar

from diary_events.base import DomainEvent, event_class_for
from diary_kernel.db import Connection
from diary_kernel.eventstore import EventStore


class Aggregate:
    """Consistency boundary: its state is the fold of its events, its version their count."""

    stream_type: ClassVar[str]

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        self.pending: list[DomainEvent] = []

    def when(self, event: DomainEvent) -> None:
        """Change state for one event; subclasses implement it without side effects."""
        raise NotImplementedError

    def raise_event(self, event: DomainEvent) -> None:
        self.when(event)
        self.version += 1
        self.pending.append(event)

    @property
    def stored_version(self) -> int:
        """The version this aggregate was loaded at: what an append must expect."""
        return self.version - len(self.pending)

    @classmethod
    def rehydrate(cls, aggregate_id: str, events: list[DomainEvent]) -> Self:
        aggregate = cls(aggregate_id)
        for event in events:
            aggregate.when(event)
            aggregate.version += 1
        return aggregate

    @property
    def exists(self) -> bool:
        return self.version > 0


A = TypeVar("A", bound=Aggregate)


class Repository(Generic[A]):
    """Loads an aggregate from its stream and appends what it decided."""

    def __init__(self, store: EventStore, aggregate_class: type[A]) -> None:
        self._store = store
        self._class = aggregate_class

    def stream_id(self, aggregate_id: str) -> str:
        return f"{self._class.stream_type}-{aggregate_id}"

    async def load(self, conn: Connection, aggregate_id: str) -> A:
        recorded = await self._store.read_stream(conn, self.stream_id(aggregate_id))
        events: list[DomainEvent] = []
        for item in recorded:
            event_class = event_class_for(item.event_type)
            if event_class is None:
                raise LookupError(f"stream {item.stream_id} holds unknown type {item.event_type}")
            events.append(event_class.model_validate(item.data))
        return self._class.rehydrate(aggregate_id, events)

    async def save(self, conn: Connection, aggregate: A, *, subject: str | None = None) -> int:
        new_version = await self._store.append(
            conn,
            stream_id=self.stream_id(aggregate.id),
            stream_type=self._class.stream_type,
            expected_version=aggregate.stored_version,
            events=aggregate.pending,
            subject=subject,
        )
        aggregate.pending = []
        return new_version
