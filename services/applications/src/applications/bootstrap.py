"""Wires the applications service: settings, runtime, the use cases, consumers and routers."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from applications.adapters.links_end import LinksEndWhenPupilLeaves
from applications.adapters.roster import RosterForMatching
from applications.adapters.views import ApplicationViews
from applications.entrypoints import http_applications
from applications.service_layer.applications import Applications
from diary_events.applications import APPLICATIONS_EVENTS_TOPIC
from diary_events.gradebook import GRADEBOOK_EVENTS_TOPIC
from diary_events.registry import REGISTRY_ROSTER_TOPIC
from diary_kernel.access_tokens import AccessTokenVerifier, RemoteKeySet
from diary_kernel.db import package_migrations
from diary_kernel.eventstore import EventStore
from diary_kernel.service import ServiceDefinition, ServiceRuntime, create_app
from diary_kernel.settings import ServiceSettings
from diary_kernel.topics import TopicSpec

SOURCE = "/diary/applications"
WEEK_MS = str(7 * 24 * 3600 * 1000)


class ApplicationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APPLICATIONS_", extra="ignore")

    service_name: str = "applications"
    database_url: str = "postgresql://diary:diary@127.0.0.1:15432/applications"
    http_port: int = 8103
    token_issuer: str = Field("http://127.0.0.1:8102", description="The identity service's public URL.")
    token_audience: str = "diary"
    jwks_url: str = Field(
        "http://127.0.0.1:8102/.well-known/jwks.json", description="Where identity publishes its keys."
    )


TOPICS = [
    # Kept forever: the gateway and notifications rebuild who may see whom from it.
    TopicSpec(APPLICATIONS_EVENTS_TOPIC, partitions=6, config={"retention.ms": "-1"}),
    TopicSpec(GRADEBOOK_EVENTS_TOPIC, partitions=6, config={"retention.ms": "-1"}),
    TopicSpec(REGISTRY_ROSTER_TOPIC, partitions=6, config={"retention.ms": WEEK_MS}),
]


def definition(settings: ServiceSettings) -> ServiceDefinition:
    store = EventStore(source=SOURCE, topic_prefix=settings.kafka_topic_prefix)
    return ServiceDefinition(
        name="applications",
        migrations=package_migrations("applications"),
        topics=TOPICS,
        projections=[RosterForMatching(), ApplicationViews()],
        inbound=[LinksEndWhenPupilLeaves(store)],
    )


def build_app(settings: ApplicationsSettings, *, jwks_client: httpx.AsyncClient | None = None) -> FastAPI:
    """`jwks_client` lets tests reach an identity service that runs in process."""
    runtime = ServiceRuntime(definition(settings), settings)

    async def started(app: FastAPI) -> None:
        assert runtime.pool is not None
        app.state.applications = Applications(runtime.pool, runtime.store)
        app.state.verifier = AccessTokenVerifier(
            RemoteKeySet.from_url(settings.jwks_url, jwks_client),
            issuer=settings.token_issuer,
            audience=settings.token_audience,
        )

    app = create_app(
        runtime,
        title="Applications",
        description=(
            "Parents' access applications per child, the school's verification and decision, "
            "consents (152-FZ) and the parent–pupil links they give. Events on "
            "`applications.events.v1`; tokens from the identity service."
        ),
        routers=[http_applications.router],
        on_started=started,
    )
    http_applications.install_application_errors(app)
    return app
