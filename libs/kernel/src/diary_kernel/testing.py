"""Test helpers shared by every service's tests (a pytest plugin, loaded by the root conftest).

They build on the real-infrastructure fixtures of `diary_devinfra.pytest_plugin`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from fastapi import FastAPI

from diary_events.base import DomainEvent
from diary_kernel.db import Pool, create_pool, kernel_migrations, migrate

T = TypeVar("T")


class CounterEvent(DomainEvent):
    """A tiny event family for testing the kernel without any service's domain."""

    topic: ClassVar[str] = "kernel-test.events.v1"


class Counted(CounterEvent):
    event_type: ClassVar[str] = "diary.kerneltest.Counted.v1"

    counter: str
    amount: int


@pytest.fixture
def topic_prefix() -> str:
    """A namespace of topics and consumer groups that no other test shares."""
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
async def kernel_pool(postgres_dsn: str) -> AsyncIterator[Pool]:
    """A pool on a fresh database with the kernel's tables."""
    pool = await create_pool(postgres_dsn, max_size=30)
    await migrate(pool, kernel_migrations())
    try:
        yield pool
    finally:
        await pool.close()


def bearer(token: str) -> dict[str, str]:
    """Headers that present an access token."""
    return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def serving(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Run a service's app in process (its lifespan: workers, consumers) and a client to call it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@contextlib.asynccontextmanager
async def listening(app: FastAPI, *, lifespan: bool = False) -> AsyncIterator[str]:
    """Serve an app over real HTTP on a free loopback port (for a browser); yields its base URL.

    `lifespan=False` suits an app whose lifespan already runs (inside `serving`).
    """
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on" if lifespan else "off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError("the HTTP server stopped before it started")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout: float = 20.0, interval: float = 0.05
) -> T:
    """Wait until `probe` returns something truthy; fail with its last answer after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {result!r})")
        await asyncio.sleep(interval)


async def read_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    expected: int,
    timeout: float = 30.0,
    extra_wait: float = 0.0,
) -> list[ConsumerRecord[Any, Any]]:
    """Every record of `topic` from the beginning, once at least `expected` have arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[Any, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for part in batch.values():
                records.extend(part)
        if extra_wait:
            end = time.monotonic() + extra_wait
            while time.monotonic() < end:
                batch = await consumer.getmany(timeout_ms=100)
                for part in batch.values():
                    records.extend(part)
    finally:
        await consumer.stop()
    return records
