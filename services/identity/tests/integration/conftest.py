"""A running identity service (in process) on real Kafka, PostgreSQL, SMTP and an OpenID provider."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from diary_devinfra.pytest_plugin import OidcTestProvider
from diary_devinfra.smtp_sink import SmtpSink
from diary_kernel.testing import serving
from identity.bootstrap import build_app
from identity.testing import PUBLIC_URL, IdentityUnderTest, identity_settings

Factory = Callable[..., Awaitable[IdentityUnderTest]]


@pytest.fixture
async def identity_factory(
    postgres_dsn: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    smtp_sink: SmtpSink,
    oidc_provider: OidcTestProvider,
) -> AsyncIterator[Factory]:
    """Start the service with settings overrides; every started one stops after the test."""
    stops: list[Any] = []

    async def start(**overrides: Any) -> IdentityUnderTest:
        settings = identity_settings(
            database_url=postgres_dsn,
            kafka_bootstrap=kafka_bootstrap,
            topic_prefix=topic_prefix,
            smtp_sink=smtp_sink,
            oidc_provider=oidc_provider,
            **overrides,
        )
        app = build_app(settings)
        running = serving(app, PUBLIC_URL)
        client = await running.__aenter__()
        stops.append(running)
        return IdentityUnderTest(client, app, smtp_sink, kafka_bootstrap, topic_prefix)

    yield start
    for running in reversed(stops):
        await running.__aexit__(None, None, None)


@pytest.fixture
async def identity(identity_factory: Factory) -> IdentityUnderTest:
    return await identity_factory()
