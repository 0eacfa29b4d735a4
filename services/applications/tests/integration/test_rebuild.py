"""Both read models of the applications service rebuilt from Kafka equal what was built live."""

from typing import Any
from uuid import UUID

from applications.adapters.roster import RosterForMatching
from applications.adapters.views import ApplicationViews
from applications.testing import Platform, application_body
from diary_kernel.db import Pool
from diary_kernel.projector import Projection, ProjectorRunner
from diary_kernel.testing import eventually
from identity.domain.accounts import Grant
from identity.testing import unique_email


async def snapshot(pool: Pool, projection: Projection) -> dict[str, list[Any]]:
    async with pool.acquire() as conn:
        return {
            table: [tuple(row.values()) for row in await conn.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]
            for table in projection.tables
        }


async def test_rebuilding_from_the_topics_equals_the_live_read_models(platform: Platform) -> None:
    apps, school = platform.applications, platform.school
    mother = (await platform.identity.registered(unique_email()))["access_token"]
    deputy = (
        await platform.identity.invited(unique_email("staff"), Grant("school_staff", school.school_id))
    )["access_token"]
    birth = school.year[0].replace(year=school.year[0].year - 11)
    ids = []
    for n, (surname, first_name) in enumerate(
        (("Иванов", "Пётр"), ("Кузнецова", "Мария"), ("Попова", "Ева"))
    ):
        body = application_body(
            school.school_id,
            surname=surname,
            first_name=first_name,
            birth_date=birth.replace(month=3 + n, day=10),
        )
        response = await apps.file(mother, body)
        assert response.status_code == 201, response.text
        ids.append(UUID(response.json()["application_id"]))
    await apps.post(f"/applications/{ids[0]}/approval", deputy, {"pupil_id": str(school.pupils[0])})
    await apps.post(f"/applications/{ids[1]}/rejection", deputy, {"reason": "pupil_not_found"})
    await apps.post(f"/applications/{ids[2]}/withdrawal", mother)
    await apps.post(f"/applications/{ids[0]}/consent-withdrawal", mother)

    async def settled() -> bool:
        async with apps.pool.acquire() as conn:
            states = await conn.fetch(
                """SELECT state, linked, unlinked_at IS NOT NULL FROM application_views
               WHERE application_id = ANY($1) ORDER BY state""",
                ids,
            )
        return [tuple(r.values()) for r in states] == [
            ("approved", False, True),  # the consent withdrawn: the last event of all
            ("rejected", False, False),
            ("withdrawn", False, False),
        ]

    await eventually(settled, timeout=30)
    for projection in (RosterForMatching(), ApplicationViews()):
        live = await snapshot(apps.pool, projection)
        assert all(live.values()), projection.name
        runner = ProjectorRunner(
            projection, apps.pool, platform.bootstrap, topic_prefix=platform.topic_prefix
        )
        assert await runner.rebuild() > 0
        assert await snapshot(apps.pool, projection) == live, projection.name
