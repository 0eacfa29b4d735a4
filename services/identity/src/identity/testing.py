"""Helpers for the identity service's tests (and other services' tests that need accounts)."""

import re
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
from fastapi import FastAPI

from diary_devinfra.smtp_sink import SmtpSink
from diary_kernel.db import Pool
from identity.service_layer.identity import Identity

STRONG_PASSWORD = "Белые ночи над Невой 1703"


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


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
