"""Helpers for tests that run the applications service next to identity and gradebook (which
these helpers use for accounts and the roster)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI

from applications.domain.consent import CURRENT_CONSENT
from diary_kernel.db import Pool
from diary_kernel.testing import bearer
from gradebook.testing import TinySchool, publish
from identity.testing import IdentityUnderTest


@dataclass
class ApplicationsUnderTest:
    client: httpx.AsyncClient
    app: FastAPI

    @property
    def pool(self) -> Pool:
        pool: Pool = self.app.state.runtime.pool
        return pool

    async def file(self, token: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/applications", json=body, headers=bearer(token))

    async def get(self, path: str, token: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=bearer(token), params=params)

    async def post(self, path: str, token: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers=bearer(token))


@dataclass
class Platform:
    """The services an application passes through: identity (accounts), gradebook (the roster)
    and applications, with the tiny school imported from the registry topic."""

    identity: IdentityUnderTest
    applications: ApplicationsUnderTest
    school: TinySchool
    bootstrap: str
    topic_prefix: str

    async def publish(self, records: Any) -> None:
        """Send registry records as the school registry would."""
        await publish(self.bootstrap, records, topic_prefix=self.topic_prefix)


def application_body(
    school_id: UUID,
    *,
    surname: str,
    first_name: str,
    birth_date: date,
    patronymic: str | None = None,
    class_id: UUID | None = None,
    relation: str = "parent",
    applicant: tuple[str, str, str | None] = ("Иванова", "Мария", "Петровна"),
) -> dict[str, Any]:
    """The form a parent fills in, with the current consent accepted."""
    return {
        "child": {
            "surname": surname,
            "first_name": first_name,
            "patronymic": patronymic,
            "birth_date": birth_date.isoformat(),
        },
        "applicant": {"surname": applicant[0], "first_name": applicant[1], "patronymic": applicant[2]},
        "relation": relation,
        "school_id": str(school_id),
        "class_id": str(class_id) if class_id else None,
        "consent": {"version": CURRENT_CONSENT.version, "accepted": True},
    }
