"""Identity, gradebook and applications running in process, each on a database of its own, on
real Kafka, PostgreSQL and the SMTP sink, with the tiny school imported from the registry topic."""

from collections.abc import AsyncIterator

import pytest

from applications.bootstrap import ApplicationsSettings
from applications.bootstrap import build_app as build_applications
from applications.testing import ApplicationsUnderTest, Platform
from diary_devinfra.pytest_plugin import DatabaseFactory
from diary_devinfra.smtp_sink import SmtpSink
from diary_kernel.testing import eventually, serving
from gradebook.bootstrap import GradebookSettings
from gradebook.bootstrap import build_app as build_gradebook
from gradebook.testing import TinySchool, publish
from identity.bootstrap import build_app as build_identity
from identity.testing import PUBLIC_URL, IdentityUnderTest, identity_settings


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


@pytest.fixture
async def platform(
    database_factory: DatabaseFactory, kafka_bootstrap: str, topic_prefix: str, smtp_sink: SmtpSink
) -> AsyncIterator[Platform]:
    identity_app = build_identity(
        identity_settings(
            database_url=await database_factory(),
            kafka_bootstrap=kafka_bootstrap,
            topic_prefix=topic_prefix,
            smtp_sink=smtp_sink,
        )
    )
    gradebook_app = build_gradebook(
        GradebookSettings(
            database_url=await database_factory(),
            kafka_bootstrap_servers=kafka_bootstrap,
            kafka_topic_prefix=topic_prefix,
        )
    )
    async with (
        serving(identity_app, PUBLIC_URL) as identity_client,
        serving(gradebook_app, "http://gradebook"),
    ):
        applications_app = build_applications(
            ApplicationsSettings(
                database_url=await database_factory(),
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
            yield Platform(identity, applications, school, kafka_bootstrap, topic_prefix)
