"""Wires the identity service: settings, runtime, the use cases, workers and routers."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from datetime import timedelta

from fastapi import FastAPI
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from diary_events.gradebook import GRADEBOOK_EVENTS_TOPIC
from diary_events.identity import IDENTITY_EVENTS_TOPIC
from diary_kernel.access_tokens import AccessTokenVerifier, RemoteKeySet
from diary_kernel.db import package_migrations
from diary_kernel.eventstore import EventStore
from diary_kernel.service import ServiceDefinition, ServiceRuntime, create_app
from diary_kernel.settings import ServiceSettings
from diary_kernel.smtp import SmtpSettings
from diary_kernel.topics import TopicSpec
from identity.adapters.credentials import Argon2Parameters, Passwords
from identity.adapters.esia import EsiaClient, EsiaSettings
from identity.adapters.mail import MailSender
from identity.adapters.roster import RosterPeople, RosterRoleEnd
from identity.adapters.signing_keys import SigningKeys
from identity.domain.lockout import LockoutPolicy
from identity.entrypoints import http_identity
from identity.service_layer.identity import Identity, IdentityConfig, utc_now

SOURCE = "/diary/identity"
log = logging.getLogger(__name__)


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    service_name: str = "identity"
    database_url: str = "postgresql://diary:diary@127.0.0.1:15432/identity"
    http_port: int = 8102

    public_url: str = Field(
        "http://127.0.0.1:8102", description="This service's address: the tokens' issuer."
    )
    links_base_url: str = Field(
        "http://127.0.0.1:8102", description="Where e-mailed links lead (the parents' web page)."
    )
    token_audience: str = "diary"
    access_token_ttl_seconds: int = Field(600, ge=30, le=3600)
    refresh_token_ttl_days: float = Field(30, gt=0)
    key_encryption_key: SecretStr = Field(
        description="Base64 of 32 random bytes; seals the token-signing keys in the database."
    )
    key_rotation_days: float = Field(30, gt=0)
    key_publish_ahead_seconds: float = Field(600, ge=0, description="Longer than verifiers cache the JWKS.")

    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=8192)
    argon2_parallelism: int = Field(4, ge=1)

    lockout_per_login: int = Field(5, ge=1)
    lockout_per_address: int = Field(30, ge=1)
    lockout_window_seconds: int = Field(900, ge=1)
    lockout_seconds: int = Field(900, ge=1)
    trusted_proxies: list[str] = Field(
        default_factory=list, description="Peers whose X-Forwarded-For names the client (the gateway)."
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_sender: str = "Петербургское образование <no-reply@diary.local>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_max_attempts: int = Field(8, ge=1)
    smtp_first_retry_seconds: float = Field(2.0, gt=0)
    run_mail_sender: bool = True

    esia_issuer: str | None = Field(None, description="OpenID Connect issuer of ESIA; unset disables it.")
    esia_client_id: str = "diary"
    esia_client_secret: SecretStr = SecretStr("")
    esia_redirect_uri: str = "http://127.0.0.1:8102/federated/esia/callback"
    esia_scopes: str = "openid fullname email"

    @field_validator("key_encryption_key")
    @classmethod
    def _thirty_two_bytes(cls, value: SecretStr) -> SecretStr:
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValueError("must be the base64 of exactly 32 random bytes")
        return value

    def kek(self) -> bytes:
        return base64.b64decode(self.key_encryption_key.get_secret_value())


TOPICS = [
    # Kept forever: other services (applications, notifications, gateway) replay accounts and roles.
    TopicSpec(IDENTITY_EVENTS_TOPIC, partitions=6, config={"retention.ms": "-1"}),
    TopicSpec(GRADEBOOK_EVENTS_TOPIC, partitions=6, config={"retention.ms": "-1"}),
]


def definition(settings: ServiceSettings) -> ServiceDefinition:
    store = EventStore(source=SOURCE, topic_prefix=settings.kafka_topic_prefix)
    return ServiceDefinition(
        name="identity",
        migrations=package_migrations("identity"),
        topics=TOPICS,
        projections=[RosterPeople()],
        inbound=[RosterRoleEnd(store)],
    )


def build_app(settings: IdentitySettings) -> FastAPI:
    runtime = ServiceRuntime(definition(settings), settings)

    async def started(app: FastAPI) -> None:
        assert runtime.pool is not None
        keys = SigningKeys(
            settings.kek(),
            access_token_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
            publish_ahead=timedelta(seconds=settings.key_publish_ahead_seconds),
        )
        pool = runtime.pool
        async with pool.acquire() as conn:
            await keys.ensure(conn, utc_now())
        sender = MailSender(
            pool,
            SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.smtp_sender,
                username=settings.smtp_username,
                password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                starttls=settings.smtp_starttls,
                max_attempts=settings.smtp_max_attempts,
                first_retry=settings.smtp_first_retry_seconds,
            ),
        )
        esia = None
        if settings.esia_issuer:
            esia = EsiaClient(
                EsiaSettings(
                    issuer=settings.esia_issuer,
                    client_id=settings.esia_client_id,
                    client_secret=settings.esia_client_secret.get_secret_value(),
                    redirect_uri=settings.esia_redirect_uri,
                    scopes=settings.esia_scopes,
                )
            )
        identity = Identity(
            pool,
            runtime.store,
            Passwords(
                Argon2Parameters(
                    settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
                )
            ),
            keys,
            IdentityConfig(
                issuer=settings.public_url,
                audience=settings.token_audience,
                access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
                refresh_ttl=timedelta(days=settings.refresh_token_ttl_days),
                links_base_url=settings.links_base_url,
            ),
            lockout=LockoutPolicy(
                per_login=settings.lockout_per_login,
                per_address=settings.lockout_per_address,
                window=timedelta(seconds=settings.lockout_window_seconds),
                lock_for=timedelta(seconds=settings.lockout_seconds),
            ),
            esia=esia,
            on_mail=sender.wake.set,
        )

        async def published() -> dict[str, object]:
            async with pool.acquire() as conn:
                return await keys.published(conn, utc_now())

        app.state.identity = identity
        app.state.mail_sender = sender
        app.state.verifier = AccessTokenVerifier(
            RemoteKeySet(published, max_age=30.0, min_refetch=1.0),
            issuer=settings.public_url,
            audience=settings.token_audience,
        )
        if settings.run_mail_sender:
            runtime.spawn_worker("mail-sender", sender.run)

        async def rotate_keys(stopping: asyncio.Event) -> None:
            while not stopping.is_set():
                async with pool.acquire() as conn:
                    kid = await keys.rotate_if_older(
                        conn, utc_now(), timedelta(days=settings.key_rotation_days)
                    )
                if kid:
                    log.info("token signing key rotated", extra={"kid": kid})
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=3600)

        runtime.spawn_worker("key-rotation", rotate_keys)

    app = create_app(
        runtime,
        title="Identity",
        description=(
            "Accounts of the diary platform: registration by e-mail, login, password reset, "
            "federated login with ESIA (OpenID Connect), access and refresh tokens, roles. "
            "Other services verify access tokens against `/.well-known/jwks.json`."
        ),
        routers=[http_identity.router],
        on_started=started,
    )
    http_identity.install_identity_errors(app, trusted_proxies=settings.trusted_proxies)
    return app
