"""Wires the notifications service: the API, the reference names, the e-mail sender; and the
settings the faust worker (`notifications worker`) shares with it."""

from __future__ import annotations

from datetime import time

import httpx
from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from diary_events.applications import APPLICATIONS_EVENTS_TOPIC
from diary_events.gradebook import GRADEBOOK_EVENTS_TOPIC
from diary_events.identity import IDENTITY_EVENTS_TOPIC
from diary_events.notifications import NOTIFICATIONS_EVENTS_TOPIC
from diary_kernel.access_tokens import AccessTokenVerifier, RemoteKeySet
from diary_kernel.db import package_migrations
from diary_kernel.service import ServiceDefinition, ServiceRuntime, create_app
from diary_kernel.settings import ServiceSettings
from diary_kernel.smtp import SmtpSettings
from diary_kernel.topics import TopicSpec
from notifications.adapters.reference import ReferenceNames
from notifications.adapters.unsubscribe import UnsubscribeLinks
from notifications.domain.preferences import Preferences
from notifications.entrypoints import http_notifications
from notifications.entrypoints.stream import STREAM_DLQ_TOPIC
from notifications.service_layer.sender import EMAIL_DLQ_TOPIC, EmailSender

FOREVER = {"retention.ms": "-1"}


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore")

    service_name: str = "notifications"
    database_url: str = "postgresql://diary:diary@127.0.0.1:15432/notifications"
    http_port: int = 8104
    token_issuer: str = "http://127.0.0.1:8102"
    token_audience: str = "diary"
    jwks_url: str = "http://127.0.0.1:8102/.well-known/jwks.json"
    public_url: str = Field("http://127.0.0.1:8100", description="The parents' web page (links in letters).")
    unsubscribe_secret: str = Field(description="Signs the letters' unsubscribe links.")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 10025
    smtp_sender: str = "Электронный дневник <dnevnik@diary.local>"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_max_attempts: int = 8
    smtp_first_retry_seconds: float = 2.0
    smtp_max_retry_seconds: float = 600.0
    worker_app_id: str = "notifications"
    default_quiet_hours: str = Field(
        "22:00-07:00", description="Moscow quiet hours of a guardian who never chose; empty: none."
    )
    max_notice_age_hours: float = Field(
        72, description="Older events tell nobody (a first start must not mail years of history)."
    )

    def default_preferences(self) -> Preferences:
        if not self.default_quiet_hours.strip():
            return Preferences(quiet_from=None, quiet_to=None)
        start, _, end = self.default_quiet_hours.partition("-")
        return Preferences(
            quiet_from=time.fromisoformat(start.strip()), quiet_to=time.fromisoformat(end.strip())
        )

    def smtp(self) -> SmtpSettings:
        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            sender=self.smtp_sender,
            username=self.smtp_username,
            password=self.smtp_password,
            starttls=self.smtp_starttls,
            max_attempts=self.smtp_max_attempts,
            first_retry=self.smtp_first_retry_seconds,
            max_retry=self.smtp_max_retry_seconds,
        )


TOPICS = [
    TopicSpec(NOTIFICATIONS_EVENTS_TOPIC, partitions=6, config=FOREVER),
    TopicSpec(EMAIL_DLQ_TOPIC, partitions=1),
    TopicSpec(STREAM_DLQ_TOPIC, partitions=1),
    # The sources (their own services create them too; whoever starts first does).
    TopicSpec(GRADEBOOK_EVENTS_TOPIC, partitions=6, config=FOREVER),
    TopicSpec(APPLICATIONS_EVENTS_TOPIC, partitions=6, config=FOREVER),
    TopicSpec(IDENTITY_EVENTS_TOPIC, partitions=6, config=FOREVER),
]


def definition(settings: ServiceSettings) -> ServiceDefinition:
    return ServiceDefinition(
        name="notifications",
        migrations=package_migrations("notifications"),
        topics=TOPICS,
        projections=[ReferenceNames()],
    )


def build_app(settings: NotificationsSettings, *, jwks_client: httpx.AsyncClient | None = None) -> FastAPI:
    runtime = ServiceRuntime(definition(settings), settings)
    links = UnsubscribeLinks(settings.unsubscribe_secret, settings.public_url)

    async def started(app: FastAPI) -> None:
        assert runtime.pool is not None
        app.state.verifier = AccessTokenVerifier(
            RemoteKeySet.from_url(settings.jwks_url, jwks_client),
            issuer=settings.token_issuer,
            audience=settings.token_audience,
        )
        sender = EmailSender(
            runtime.pool,
            runtime.store,
            settings.smtp(),
            links,
            diary_url=settings.public_url,
            producer=runtime.producer,
            dlq_topic=settings.kafka_topic_prefix + EMAIL_DLQ_TOPIC,
        )
        app.state.sender = sender
        runtime.spawn_worker("email-sender", sender.run)

    app = create_app(
        runtime,
        title="Notifications",
        description=(
            "Guardians' notification preferences and in-app feed. Notices come from the diary's "
            "events through a faust-streaming worker (`notifications worker`); e-mail leaves "
            "through SMTP, once per event, guardian and channel."
        ),
        routers=[http_notifications.router],
        on_started=started,
    )
    app.state.unsubscribe_links = links
    app.state.default_preferences = settings.default_preferences()
    return app
