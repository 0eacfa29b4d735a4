"""Notifications next to identity, gradebook and applications (in process), its faust worker in
a process of its own, on real Kafka, PostgreSQL and the SMTP sink."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from applications.testing import running_platform
from diary_devinfra.pytest_plugin import DatabaseFactory
from diary_devinfra.smtp_sink import SmtpSink
from notifications.testing import NotificationsUnderTest, running_notifications


@pytest.fixture
async def notifications(
    database_factory: DatabaseFactory,
    kafka_bootstrap: str,
    topic_prefix: str,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> AsyncIterator[NotificationsUnderTest]:
    async with (
        running_platform(database_factory, kafka_bootstrap, topic_prefix, smtp_sink) as platform,
        running_notifications(
            platform,
            await database_factory(),
            smtp_sink,
            tmp_path,
            smtp_max_attempts=3,
            smtp_first_retry_seconds=0.2,
        ) as running,
    ):
        yield running
