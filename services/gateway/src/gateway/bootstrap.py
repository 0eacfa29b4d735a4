"""Wires the gateway: settings, the access read model, the services behind it, routes and the page."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from diary_events.applications import APPLICATIONS_EVENTS_TOPIC
from diary_events.gradebook import GRADEBOOK_EVENTS_TOPIC
from diary_kernel.access_tokens import AccessTokenVerifier, RemoteKeySet
from diary_kernel.db import package_migrations
from diary_kernel.service import ServiceDefinition, ServiceRuntime, create_app
from diary_kernel.settings import ServiceSettings
from diary_kernel.topics import TopicSpec
from gateway.adapters.access_model import AccessModel
from gateway.adapters.rate_limit import RateLimiter
from gateway.adapters.upstream import Upstream, Upstreams
from gateway.entrypoints import (
    http_applications,
    http_diary,
    http_journal,
    http_notifications,
    http_session,
)
from gateway.entrypoints.client_limit import ClientRateLimit
from gateway.entrypoints.web import install_web_page


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    database_url: str = "postgresql://diary:diary@127.0.0.1:15432/gateway"
    http_port: int = 8100
    public_url: str = Field("http://127.0.0.1:8100", description="Where parents reach the gateway.")
    identity_url: str = "http://127.0.0.1:8102"
    gradebook_url: str = "http://127.0.0.1:8101"
    applications_url: str = "http://127.0.0.1:8103"
    notifications_url: str = "http://127.0.0.1:8104"
    token_issuer: str = Field("http://127.0.0.1:8102", description="The identity service's public URL.")
    token_audience: str = "diary"
    jwks_url: str = "http://127.0.0.1:8102/.well-known/jwks.json"
    cookie_secure: bool | None = Field(None, description="Secure cookies; default: when public_url is https.")
    refresh_cookie_days: int = 30
    account_requests_per_minute: float = 600
    account_burst: int = 120
    address_requests_per_minute: float = 3000
    address_burst: int = 600
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Peers (the ingress) whose X-Forwarded-For names the client."
    )


TOPICS = [
    TopicSpec(APPLICATIONS_EVENTS_TOPIC, partitions=6, config={"retention.ms": "-1"}),
    TopicSpec(GRADEBOOK_EVENTS_TOPIC, partitions=6, config={"retention.ms": "-1"}),
]


def definition(settings: ServiceSettings) -> ServiceDefinition:
    return ServiceDefinition(
        name="gateway",
        migrations=package_migrations("gateway"),
        topics=TOPICS,
        projections=[AccessModel()],
    )


def build_app(settings: GatewaySettings, *, upstreams: Upstreams | None = None) -> FastAPI:
    """`upstreams` lets tests put services running in process behind the gateway."""
    runtime = ServiceRuntime(definition(settings), settings)
    behind = upstreams or Upstreams(
        identity=Upstream.at("identity", settings.identity_url),
        gradebook=Upstream.at("gradebook", settings.gradebook_url),
        applications=Upstream.at("applications", settings.applications_url),
        notifications=Upstream.at("notifications", settings.notifications_url),
    )

    async def started(app: FastAPI) -> None:
        app.state.verifier = AccessTokenVerifier(
            RemoteKeySet.from_url(settings.jwks_url, behind.identity.client),
            issuer=settings.token_issuer,
            audience=settings.token_audience,
        )

    app = create_app(
        runtime,
        title="Electronic school diary",
        description=(
            "The platform's front door: the parents' diary (children, week, marks, final marks, "
            "attendance, teachers, class rating, exams), access applications, notifications (the "
            "feed and the preferences), sign-in and the account. Every diary route is authorised "
            "from the gateway's access read model; errors are problem+json; diary answers carry ETags."
        ),
        routers=[
            http_session.router,
            http_diary.router,
            http_applications.router,
            http_notifications.router,
            http_journal.router,
        ],
        on_started=started,
    )
    app.state.upstreams = behind
    app.state.cookie_secure = (
        settings.cookie_secure
        if settings.cookie_secure is not None
        else settings.public_url.startswith("https:")
    )
    app.state.refresh_cookie_seconds = settings.refresh_cookie_days * 24 * 3600
    app.state.trusted_proxies = frozenset(settings.trusted_proxies)
    app.state.account_limiter = RateLimiter(settings.account_requests_per_minute, settings.account_burst)
    app.add_middleware(
        ClientRateLimit,
        limiter=RateLimiter(settings.address_requests_per_minute, settings.address_burst),
        trusted_proxies=frozenset(settings.trusted_proxies),
    )
    install_web_page(app)
    return app
