"""Helpers for tests that run the applications service next to identity and gradebook (which
these helpers use for accounts and the roster)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI

from applications.bootstrap import ApplicationsSettings
from applications.bootstrap import build_app as build_applications
from applications.domain.consent import CURRENT_CONSENT
from diary_devinfra.pytest_plugin import OidcTestProvider
from diary_devinfra.smtp_sink import SmtpSink
from diary_events.registry import PupilRecord
from diary_kernel.db import Pool
from diary_kernel.testing import bearer, eventually, serving
from gradebook.bootstrap import GradebookSettings
from gradebook.bootstrap import build_app as build_gradebook
from gradebook.testing import TinySchool, publish
from identity.bootstrap import build_app as build_identity
from identity.domain.accounts import Grant
from identity.testing import PUBLIC_URL, IdentityUnderTest, identity_settings, unique_email


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
    gradebook: httpx.AsyncClient
    gradebook_app: FastAPI
    school: TinySchool
    bootstrap: str
    topic_prefix: str

    async def publish(self, records: Any) -> None:
        """Send registry records as the school registry would."""
        await publish(self.bootstrap, records, topic_prefix=self.topic_prefix)

    async def parent_token(self, who: str = "parent") -> str:
        """A newly registered parent's access token."""
        tokens = await self.identity.registered(unique_email(who))
        token: str = tokens["access_token"]
        return token

    async def staff_token(self, school_id: UUID | None = None) -> str:
        """A newly invited member of the school's staff (no roster person)."""
        grant = Grant("school_staff", school_id or self.school.school_id, None)
        tokens = await self.identity.invited(unique_email("staff"), grant)
        token: str = tokens["access_token"]
        return token

    def application_for(self, pupil: int) -> dict[str, Any]:
        """The form a parent fills in for pupil number `pupil` of the tiny school, names as registered."""
        record = next(
            r
            for r in self.school.records()
            if isinstance(r, PupilRecord) and r.pupil_id == self.school.pupils[pupil]
        )
        return application_body(
            self.school.school_id,
            surname=record.surname,
            first_name=record.first_name,
            birth_date=record.birth_date,
        )

    async def link(self, parent_token: str, pupil: int, staff_token: str | None = None) -> UUID:
        """File the parent's application for pupil number `pupil` and have the school approve it."""
        filed = await self.applications.file(parent_token, self.application_for(pupil))
        assert filed.status_code == 201, filed.text
        application_id = UUID(filed.json()["application_id"])
        staff = staff_token or await self.staff_token()
        approved = await self.applications.post(
            f"/applications/{application_id}/approval", staff, {"pupil_id": str(self.school.pupils[pupil])}
        )
        assert approved.status_code == 204, approved.text
        return application_id


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


async def _roster_arrived(applications: ApplicationsUnderTest, school: TinySchool) -> bool:
    async with applications.pool.acquire() as conn:
        enrolled = await conn.fetchval(
            """SELECT count(*) FROM roster_enrolments e JOIN roster_pupils p USING (pupil_id)
               WHERE e.school_id = $1 AND e.active""",
            school.school_id,
        )
        staff = await conn.fetchval(
            "SELECT count(*) FROM roster_staff WHERE school_id = $1", school.school_id
        )
    return bool(enrolled == len(school.pupils) and staff == 2)


@contextlib.asynccontextmanager
async def running_platform(
    new_database: Callable[[], Awaitable[str]],
    kafka_bootstrap: str,
    topic_prefix: str,
    smtp_sink: SmtpSink,
    oidc_provider: OidcTestProvider | None = None,
) -> AsyncIterator[Platform]:
    """Identity, gradebook and applications in process, each on a database of its own, on real
    Kafka, PostgreSQL and the SMTP sink, with the tiny school imported from the registry topic.
    With `oidc_provider`, identity offers ESIA login through it."""
    identity_app = build_identity(
        identity_settings(
            database_url=await new_database(),
            kafka_bootstrap=kafka_bootstrap,
            topic_prefix=topic_prefix,
            smtp_sink=smtp_sink,
            oidc_provider=oidc_provider,
        )
    )
    gradebook_app = build_gradebook(
        GradebookSettings(
            database_url=await new_database(),
            kafka_bootstrap_servers=kafka_bootstrap,
            kafka_topic_prefix=topic_prefix,
        )
    )
    async with (
        serving(identity_app, PUBLIC_URL) as identity_client,
        serving(gradebook_app, "http://gradebook") as gradebook_client,
    ):
        applications_app = build_applications(
            ApplicationsSettings(
                database_url=await new_database(),
                kafka_bootstrap_servers=kafka_bootstrap,
                kafka_topic_prefix=topic_prefix,
                token_issuer=PUBLIC_URL,
                jwks_url=f"{PUBLIC_URL}/.well-known/jwks.json",
            ),
            jwks_client=identity_client,
        )
        async with serving(applications_app, "http://applications") as client:
            identity = IdentityUnderTest(
                identity_client, identity_app, smtp_sink, kafka_bootstrap, topic_prefix
            )
            applications = ApplicationsUnderTest(client, applications_app)
            school = TinySchool()
            await publish(kafka_bootstrap, school.records(), topic_prefix=topic_prefix)
            await eventually(lambda: _roster_arrived(applications, school), timeout=30)
            yield Platform(
                identity, applications, gradebook_client, gradebook_app, school, kafka_bootstrap, topic_prefix
            )
