"""Wires the gradebook: settings, the kernel's runtime, the projections and the HTTP routers."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from diary_events.gradebook import GRADEBOOK_EVENTS_TOPIC
from diary_kernel.db import package_migrations
from diary_kernel.service import ServiceDefinition, ServiceRuntime, create_app
from diary_kernel.settings import ServiceSettings
from diary_kernel.topics import TopicSpec
from gradebook.adapters.diary_read_model import DiaryMarksProjection
from gradebook.entrypoints.http import router


class GradebookSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GRADEBOOK_", extra="ignore")

    service_name: str = "gradebook"
    database_url: str = "postgresql://diary:diary@127.0.0.1:15432/gradebook"
    http_port: int = 8101


TOPICS = [
    # Keyed by aggregate: a mark's events stay in order. Kept forever: read models replay it.
    TopicSpec(GRADEBOOK_EVENTS_TOPIC, partitions=6, config={"retention.ms": "-1"}),
]


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="gradebook",
        migrations=package_migrations("gradebook"),
        topics=TOPICS,
        projections=[DiaryMarksProjection()],
    )


def build_app(settings: GradebookSettings | None = None) -> FastAPI:
    settings = settings or GradebookSettings()
    runtime = ServiceRuntime(definition(), settings)
    return create_app(
        runtime,
        title="Gradebook",
        description="The class journal (marks) and the diary read model built from its events.",
        routers=[router],
    )
