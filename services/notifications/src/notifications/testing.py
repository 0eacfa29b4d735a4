"""Helpers for tests of notifications: the API in process, the faust worker as a real process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from applications.testing import Platform
from diary_devinfra.smtp_sink import SmtpSink
from diary_kernel.db import Pool
from diary_kernel.testing import bearer, serving
from identity.testing import PUBLIC_URL
from notifications.bootstrap import NotificationsSettings, build_app

UNSUBSCRIBE_SECRET = "test-unsubscribe-secret"


@dataclass
class Worker:
    """`notifications worker` in a process of its own, so a test can kill it like a crash would."""

    environment: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    def start(self) -> None:
        self.starts += 1
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "notifications.entrypoints.cli", "worker"],
            env={**os.environ, **self.environment},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no goodbye, no commit of offsets, as a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@dataclass
class NotificationsUnderTest:
    client: httpx.AsyncClient
    app: FastAPI
    worker: Worker
    smtp_sink: SmtpSink
    platform: Platform

    @property
    def pool(self) -> Pool:
        pool: Pool = self.app.state.runtime.pool
        return pool

    async def get(self, path: str, token: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=bearer(token), params=params)

    async def deliveries(self, channel: str, **where: Any) -> int:
        conditions = " AND ".join(f"{k} = ${n + 2}" for n, k in enumerate(where))
        async with self.pool.acquire() as conn:
            count: int = await conn.fetchval(
                f"SELECT count(*) FROM deliveries WHERE channel = $1 {'AND ' + conditions if where else ''}",
                channel,
                *where.values(),
            )
        return count


def notifications_settings(
    platform: Platform, database_url: str, smtp_sink: SmtpSink, **changes: Any
) -> NotificationsSettings:
    return NotificationsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=platform.bootstrap,
        kafka_topic_prefix=platform.topic_prefix,
        token_issuer=PUBLIC_URL,
        jwks_url=f"{PUBLIC_URL}/.well-known/jwks.json",
        public_url="http://diary.test",
        unsubscribe_secret=UNSUBSCRIBE_SECRET,
        smtp_host=smtp_sink.host,
        smtp_port=smtp_sink.port,
        smtp_sender="dnevnik@diary.test",
        default_quiet_hours="",  # the tests run at any hour
        **changes,
    )


@contextlib.asynccontextmanager
async def running_notifications(
    platform: Platform, database_url: str, smtp_sink: SmtpSink, log_dir: Path, **changes: Any
) -> AsyncIterator[NotificationsUnderTest]:
    settings = notifications_settings(platform, database_url, smtp_sink, **changes)
    app = build_app(settings, jwks_client=platform.identity.client)
    environment = {
        "NOTIFICATIONS_DATABASE_URL": database_url,
        "DIARY_KAFKA_BOOTSTRAP_SERVERS": platform.bootstrap,
        "DIARY_KAFKA_TOPIC_PREFIX": platform.topic_prefix,
        "NOTIFICATIONS_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
        "NOTIFICATIONS_DEFAULT_QUIET_HOURS": settings.default_quiet_hours,
    }
    async with serving(app, "http://notifications.test") as client:  # migrations run before the worker
        worker = Worker(environment, log_dir / "notifications-worker.log")
        worker.start()
        try:
            yield NotificationsUnderTest(client, app, worker, smtp_sink, platform)
        finally:
            await asyncio.to_thread(worker.stop)
