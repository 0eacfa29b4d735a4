"""The event store against a real PostgreSQL server."""

import asyncio

import pytest

from diary_kernel.db import Connection, Pool
from diary_kernel.eventstore import ConcurrencyError, EventStore, LogCheckpoint
from diary_kernel.testing import Counted

pytestmark = pytest.mark.infra

store = EventStore(source="/diary/test")


async def append_on(conn: Connection, stream: str, expected: int, *amounts: int) -> int:
    return await store.append(
        conn,
        stream_id=stream,
        stream_type="counter",
        expected_version=expected,
        events=[Counted(counter=stream, amount=a) for a in amounts],
    )


async def append(pool: Pool, stream: str, expected: int, *amounts: int) -> int:
    async with pool.acquire() as conn, conn.transaction():
        return await append_on(conn, stream, expected, *amounts)


async def test_appended_events_read_back_in_order_with_versions(kernel_pool: Pool) -> None:
    assert await append(kernel_pool, "counter-a", 0, 1, 2) == 2
    assert await append(kernel_pool, "counter-a", 2, 3) == 3

    async with kernel_pool.acquire() as conn:
        recorded = await store.read_stream(conn, "counter-a")
        outbox = await conn.fetch("SELECT topic, key, headers FROM outbox ORDER BY id")

    assert [(e.version, e.data["amount"]) for e in recorded] == [(1, 1), (2, 2), (3, 3)]
    assert [r["topic"] for r in outbox] == ["kernel-test.events.v1"] * 3
    assert {r["key"] for r in outbox} == {b"counter-a"}
    assert [r["headers"]["ce_id"] for r in outbox] == [str(e.event_id) for e in recorded]
    assert [r["headers"]["ce_sequence"] for r in outbox] == ["1", "2", "3"]


async def test_two_concurrent_appends_to_one_stream_exactly_one_wins(kernel_pool: Pool) -> None:
    await append(kernel_pool, "counter-b", 0, 1)

    results = await asyncio.gather(
        *(append(kernel_pool, "counter-b", 1, 10 + i) for i in range(8)), return_exceptions=True
    )

    winners = [r for r in results if r == 2]
    losers = [r for r in results if isinstance(r, ConcurrencyError)]
    assert len(winners) == 1
    assert len(losers) == 7
    assert all(error.actual == 2 and error.expected == 1 for error in losers)
    async with kernel_pool.acquire() as conn:
        assert len(await store.read_stream(conn, "counter-b")) == 2
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 2


async def test_creating_a_stream_that_exists_is_a_conflict(kernel_pool: Pool) -> None:
    await append(kernel_pool, "counter-c", 0, 1)
    with pytest.raises(ConcurrencyError) as caught:
        await append(kernel_pool, "counter-c", 0, 1)
    assert caught.value.actual == 1


async def test_append_outside_a_transaction_is_refused(kernel_pool: Pool) -> None:
    async with kernel_pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside a transaction"):
            await append_on(conn, "x", 0, 1)


async def test_a_log_reader_never_passes_over_a_transaction_that_commits_late(
    kernel_pool: Pool,
) -> None:
    """T_late inserts its event before T_early but commits after it: a reader that kept only
    the highest position would have skipped T_late's event for ever."""
    late = await kernel_pool.acquire()
    early = await kernel_pool.acquire()
    try:
        early_tx = early.transaction()
        await early_tx.start()
        # The early transaction takes its transaction id first...
        await early.execute("SELECT pg_current_xact_id()")
        late_tx = late.transaction()
        await late_tx.start()
        # ...the late one inserts its event (lower position) first...
        await append_on(late, "late", 0, 1)
        await append_on(early, "early", 0, 2)
        await early_tx.commit()

        async with kernel_pool.acquire() as reader:
            seen = await store.read_all(reader)
        checkpoint = seen[-1].checkpoint if seen else LogCheckpoint()
        assert [e.stream_id for e in seen] == ["early"]

        await late_tx.commit()
        async with kernel_pool.acquire() as reader:
            after = await store.read_all(reader, checkpoint)
        assert [e.stream_id for e in after] == ["late"]
        assert after[0].position < seen[0].position
    finally:
        await kernel_pool.release(late)
        await kernel_pool.release(early)


async def test_read_all_holds_back_events_behind_a_running_transaction(kernel_pool: Pool) -> None:
    running = await kernel_pool.acquire()
    try:
        tx = running.transaction()
        await tx.start()
        await append_on(running, "first", 0, 1)
        await append(kernel_pool, "second", 0, 2)
        async with kernel_pool.acquire() as reader:
            assert await store.read_all(reader) == []
        await tx.commit()
        async with kernel_pool.acquire() as reader:
            assert [e.stream_id for e in await store.read_all(reader)] == ["first", "second"]
    finally:
        await kernel_pool.release(running)
