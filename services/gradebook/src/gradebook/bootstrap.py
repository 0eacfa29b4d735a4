"""Wires the gradebook: settings, the kernel's runtime, the importers, projections and routers."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from diary_events.exams import EXAM_RESULTS_TOPIC
from diary_events.gradebook import GRADEBOOK_EVENTS_TOPIC
from diary_events.registry import REGISTRY_ROSTER_TOPIC
from diary_kernel.db import package_migrations
from diary_kernel.eventstore import EventStore
from diary_kernel.service import ServiceDefinition, ServiceRuntime, create_app
from diary_kernel.settings import ServiceSettings
from diary_kernel.topics import TopicSpec
from gradebook.adapters.diary_read_model import DiaryMarksProjection
from gradebook.adapters.journal_read_model import JournalProjection
from gradebook.adapters.registry_importer import ExamResultsImporter, RegistryImporter
from gradebook.adapters.roster_read_model import RosterProjection
from gradebook.entrypoints import http_diary, http_journal
from gradebook.entrypoints.errors import install_journal_errors

SOURCE = "/diary/gradebook"


class GradebookSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GRADEBOOK_", extra="ignore")

    service_name: str = "gradebook"
    database_url: str = "postgresql://diary:diary@127.0.0.1:15432/gradebook"
    http_port: int = 8101


WEEK_MS = str(7 * 86_400_000)

TOPICS = [
    # Keyed by aggregate: one lesson's or mark's events stay in order. Kept forever: read models
    # (here and in other services) replay it.
    TopicSpec(GRADEBOOK_EVENTS_TOPIC, partitions=6, config={"retention.ms": "-1"}),
    # Integration inputs carry personal data in clear: kept a week, long enough to re-import.
    TopicSpec(REGISTRY_ROSTER_TOPIC, partitions=6, config={"retention.ms": WEEK_MS}),
    TopicSpec(EXAM_RESULTS_TOPIC, partitions=3, config={"retention.ms": WEEK_MS}),
]


def definition(settings: ServiceSettings | None = None) -> ServiceDefinition:
    settings = settings or GradebookSettings()
    store = EventStore(source=SOURCE, topic_prefix=settings.kafka_topic_prefix)
    return ServiceDefinition(
        name="gradebook",
        migrations=package_migrations("gradebook"),
        topics=TOPICS,
        projections=[RosterProjection(), JournalProjection(), DiaryMarksProjection()],
        inbound=[RegistryImporter(store), ExamResultsImporter(store)],
    )


def build_app(settings: GradebookSettings | None = None) -> FastAPI:
    settings = settings or GradebookSettings()
    runtime = ServiceRuntime(definition(settings), settings)
    app = create_app(
        runtime,
        title="Gradebook",
        description=(
            "The class journal (timetable, lessons, homework, attendance, marks, final marks), the "
            "roster mirrored from the school registry, and the diary read models built from its events."
        ),
        routers=[http_journal.router, http_diary.router],
    )
    install_journal_errors(app)
    return app
