"""Helpers for the identity service's tests (and other services' tests that need accounts)."""

import base64
import os
import re
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
from fastapi import FastAPI

from diary_devinfra.pytest_plugin import OidcTestProvider
from diary_devinfra.smtp_sink import SmtpSink
from diary_kernel.access_tokens import AccessClaims, RoleClaim
from diary_kernel.db import Pool
from identity.bootstrap import IdentitySettings
from identity.domain.accounts import Grant
from identity.service_layer.identity import Identity

STRONG_PASSWORD = "Белые ночи над Невой 1703"
PUBLIC_URL = "http://identity.test"

CONSOLE = AccessClaims(
    account_id=uuid.UUID(int=0),
    session_id=uuid.UUID(int=0),
    roles=(RoleClaim(role="operator"),),
    expires_at=0,
)
"""The command line's operator, as `identity invite-operator` acts: grants any role."""


def identity_settings(
    *,
    database_url: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    smtp_sink: SmtpSink,
    oidc_provider: OidcTestProvider | None = None,
    **overrides: Any,
) -> IdentitySettings:
    """Settings of an identity service under test: the real sink, a fresh key-encryption key."""
    esia: dict[str, Any] = {}
    if oidc_provider is not None:
        esia = {
            "esia_issuer": oidc_provider.issuer,
            "esia_client_id": oidc_provider.client_id,
            "esia_client_secret": oidc_provider.client_secret,
            "esia_redirect_uri": oidc_provider.redirect_uri,
        }
    return IdentitySettings(
        **{
            "database_url": database_url,
            "kafka_bootstrap_servers": kafka_bootstrap,
            "kafka_topic_prefix": topic_prefix,
            "key_encryption_key": base64.b64encode(os.urandom(32)).decode(),
            "smtp_host": smtp_sink.host,
            "smtp_port": smtp_sink.port,
            "smtp_first_retry_seconds": 0.2,
            "trusted_proxies": ["127.0.0.1"],
            "public_url": PUBLIC_URL,
            "links_base_url": "http://diary.test",
            **esia,
            **overrides,
        }
    )


@dataclass
class IdentityUnderTest:
    client: httpx.AsyncClient
    app: FastAPI
    sink: SmtpSink
    bootstrap: str
    topic_prefix: str

    @property
    def pool(self) -> Pool:
        pool: Pool = self.app.state.runtime.pool
        return pool

    @property
    def service(self) -> Identity:
        service: Identity = self.app.state.identity
        return service

    async def letter(self, address: str, subject: str, *, after: int = 0) -> EmailMessage:
        return await self.sink.mailbox.wait_for(address, subject_contains=subject, timeout=20, after=after)

    def letters_to(self, address: str) -> int:
        return len(self.sink.mailbox.to(address))

    async def registered(self, email: str, password: str = STRONG_PASSWORD) -> dict[str, Any]:
        """Register, confirm by the mailed link and set the password; the token response."""
        response = await self.client.post("/registrations", json={"email": email})
        assert response.status_code == 202
        token = link_token(await self.letter(email, "Подтверждение регистрации"))
        confirmed = await self.client.post(
            "/registrations/confirmation", json={"token": token, "password": password}
        )
        assert confirmed.status_code == 201, confirmed.text
        body: dict[str, Any] = confirmed.json()
        return body

    async def accept_invitation(self, email: str) -> dict[str, Any]:
        """Follow the invitation letter's link and set a password; the token response."""
        invitation = await self.letter(email, "Приглашение")
        accepted = await self.client.post(
            "/registrations/confirmation", json={"token": link_token(invitation), "password": STRONG_PASSWORD}
        )
        assert accepted.status_code == 201, accepted.text
        body: dict[str, Any] = accepted.json()
        return body

    async def invited(self, email: str, grant: Grant) -> dict[str, Any]:
        """An account an operator invited with `grant`, signed in: the token response."""
        await self.service.invite(CONSOLE, email, grant)
        return await self.accept_invitation(email)

    async def login(
        self, email: str, password: str = STRONG_PASSWORD, address: str = "198.51.100.7"
    ) -> httpx.Response:
        return await self.client.post(
            "/sessions", json={"email": email, "password": password}, headers={"X-Forwarded-For": address}
        )


def link_token(letter: EmailMessage) -> str:
    body = letter.get_content()
    match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", body)
    assert match, f"no link in the letter: {body!r}"
    return match.group(1)


def unique_email(who: str = "parent") -> str:
    return f"{who}.{uuid.uuid4().hex[:10]}@example.org"
