"""Identity, gradebook and applications running in process (see `applications.testing`)."""

from collections.abc import AsyncIterator

import pytest

from applications.testing import Platform, running_platform
from diary_devinfra.pytest_plugin import DatabaseFactory
from diary_devinfra.smtp_sink import SmtpSink


@pytest.fixture
async def platform(
    database_factory: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str, smtp_sink: SmtpSink
) -> AsyncIterator[Platform]:
    async with running_platform(database_factory, kafka_bootstrap, topic_prefix, smtp_sink) as running:
        yield running
