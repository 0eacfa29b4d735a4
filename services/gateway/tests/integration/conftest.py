"""The gateway in front of identity, gradebook and applications, all in process, on real Kafka,
PostgreSQL and the SMTP sink (see `applications.testing` and `gateway.testing`)."""

from collections.abc import AsyncIterator

import pytest

from applications.testing import running_platform
from diary_devinfra.pytest_plugin import DatabaseFactory, OidcTestProvider
from diary_devinfra.smtp_sink import SmtpSink
from gateway.testing import GatewayUnderTest, roster_arrived, running_gateway


@pytest.fixture
async def gateway(
    database_factory: DatabaseFactory,
    kafka_bootstrap: str,
    topic_prefix: str,
    smtp_sink: SmtpSink,
    oidc_provider: OidcTestProvider,
) -> AsyncIterator[GatewayUnderTest]:
    async with (
        running_platform(
            database_factory, kafka_bootstrap, topic_prefix, smtp_sink, oidc_provider
        ) as platform,
        running_gateway(platform, await database_factory()) as running,
    ):
        await roster_arrived(running)
        yield running
