"""A running identity service (in process) on real Kafka, PostgreSQL, SMTP and an OpenID provider."""

import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from diary_devinfra.pytest_plugin import OidcTestProvider
from diary_devinfra.smtp_sink import SmtpSink
from identity.bootstrap import IdentitySettings, build_app
from identity.testing import IdentityUnderTest

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
    started: list[tuple[FastAPI, Any, httpx.AsyncClient]] = []

    async def start(**overrides: Any) -> IdentityUnderTest:
        settings = IdentitySettings(
            **{
                "database_url": postgres_dsn,
                "kafka_bootstrap_servers": kafka_bootstrap,
                "kafka_topic_prefix": topic_prefix,
                "key_encryption_key": base64.b64encode(os.urandom(32)).decode(),
                "smtp_host": smtp_sink.host,
                "smtp_port": smtp_sink.port,
                "smtp_first_retry_seconds": 0.2,
                "trusted_proxies": ["127.0.0.1"],
                "public_url": "http://identity.test",
                "links_base_url": "http://diary.test",
                "esia_issuer": oidc_provider.issuer,
                "esia_client_id": oidc_provider.client_id,
                "esia_client_secret": oidc_provider.client_secret,
                "esia_redirect_uri": oidc_provider.redirect_uri,
                **overrides,
            }
        )
        app = build_app(settings)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://identity.test")
        started.append((app, lifespan, client))
        return IdentityUnderTest(client, app, smtp_sink, kafka_bootstrap, topic_prefix)

    yield start
    for _app, lifespan, client in reversed(started):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def identity(identity_factory: Factory) -> IdentityUnderTest:
    return await identity_factory()
