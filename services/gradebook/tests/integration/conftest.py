"""A running gradebook (in process, real Kafka and PostgreSQL) and the tiny school's roster in it."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from diary_kernel.db import Pool
from diary_kernel.testing import eventually
from gradebook.adapters import roster_read_model as roster
from gradebook.bootstrap import GradebookSettings, build_app
from gradebook.testing import TinySchool, publish


@dataclass
class Gradebook:
    client: httpx.AsyncClient
    app: FastAPI
    bootstrap: str
    topic_prefix: str

    @property
    def pool(self) -> Pool:
        pool: Pool = self.app.state.runtime.pool
        return pool


@pytest.fixture
async def gradebook(postgres_dsn: str, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Gradebook]:
    settings = GradebookSettings(
        database_url=postgres_dsn, kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_prefix=topic_prefix
    )
    app: FastAPI = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gradebook") as client:
            yield Gradebook(client, app, kafka_bootstrap, topic_prefix)


async def roster_shows(pool: Pool, school: TinySchool) -> bool:
    """The whole tiny school has reached the roster read model."""
    today = date.today()
    async with pool.acquire() as conn:
        classes = [await roster.class_info(conn, c) for c in (school.class_a, school.class_b)]
        educations = [await roster.education_at(conn, e, today) for e in school.educations]
        assigned = [
            await roster.is_assigned(conn, teacher, class_id, subject)
            for teacher, subject in (
                (school.maths_teacher, school.maths),
                (school.russian_teacher, school.russian),
            )
            for class_id in (school.class_a, school.class_b)
        ]
        period = await roster.period_info(conn, school.quarters[0])
    return all(classes) and all(educations) and all(assigned) and period is not None


@pytest.fixture
async def school(gradebook: Gradebook) -> TinySchool:
    """The tiny school imported from the registry topic and visible in the roster read model."""
    school = TinySchool()
    await publish(gradebook.bootstrap, school.records(), topic_prefix=gradebook.topic_prefix)
    await eventually(lambda: roster_shows(gradebook.pool, school), timeout=30)
    return school
