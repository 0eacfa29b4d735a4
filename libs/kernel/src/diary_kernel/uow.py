"""Unit of work: one PostgreSQL transaction around a command, with repositories bound to it.

Everything a command decides (events, outbox rows) commits together or not at all; leaving the
block with an exception rolls it all back.
"""

from __future__ import annotations

from types import TracebackType
from typing import Generic, Self, TypeVar

from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction

from diary_kernel.aggregate import Aggregate, Repository
from diary_kernel.db import Connection, Pool
from diary_kernel.eventstore import EventStore

A = TypeVar("A", bound=Aggregate)


class BoundRepository(Generic[A]):
    def __init__(self, repository: Repository[A], conn: Connection) -> None:
        self._repository = repository
        self._conn = conn

    def stream_id(self, aggregate_id: str) -> str:
        return self._repository.stream_id(aggregate_id)

    async def get(self, aggregate_id: str) -> A:
        return await self._repository.load(self._conn, aggregate_id)

    async def save(self, aggregate: A, *, subject: str | None = None) -> int:
        return await self._repository.save(self._conn, aggregate, subject=subject)


class UnitOfWork:
    def __init__(self, pool: Pool, store: EventStore) -> None:
        self._pool = pool
        self._store = store
        self._conn: PoolConnectionProxy[Record] | None = None
        self._tx: Transaction | None = None

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open")
        return self._conn

    def repository(self, aggregate_class: type[A]) -> BoundRepository[A]:
        return BoundRepository(Repository(self._store, aggregate_class), self.conn)

    async def __aenter__(self) -> Self:
        self._conn = await self._pool.acquire()
        self._tx = self._conn.transaction()
        await self._tx.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tx is not None
        assert self._conn is not None
        try:
            if exc_type is None:
                await self._tx.commit()
            else:
                await self._tx.rollback()
        finally:
            await self._pool.release(self._conn)
            self._conn = None
            self._tx = None
