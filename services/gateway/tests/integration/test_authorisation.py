"""Broken object-level authorisation, route by route: a diary is readable by its pupil's linked
parents, the pupil, the teachers of the pupil's class and the school's staff, and by nobody
else, who gets the same 404 as for an id that does not exist. Links take effect from the topics."""

import time
from typing import Any
from uuid import UUID, uuid4

from diary_kernel.testing import bearer, eventually
from gateway.testing import GatewayUnderTest
from identity.domain.accounts import Grant
from identity.testing import unique_email

DIARY_VIEWS = ["week", "marks", "final-marks", "attendance", "teachers", "rating", "exams"]


async def account_id(gateway: GatewayUnderTest, token: str) -> UUID:
    me = await gateway.get("/api/v1/me", token)
    assert me.status_code == 200, me.text
    return UUID(me.json()["account_id"])


async def granted(gateway: GatewayUnderTest, grant: Grant) -> str:
    """A new account with one role (identity checks a person against its roster copy)."""
    email = unique_email(grant.role)

    async def invited() -> dict[str, Any] | None:
        try:
            return await gateway.platform.identity.invited(email, grant)
        except Exception:
            return None

    tokens = await eventually(invited, timeout=30, interval=0.3)
    token: str = tokens["access_token"]
    return token


async def readable(gateway: GatewayUnderTest, token: str, education_id: UUID) -> dict[str, int]:
    """The status of every diary view of one education for one caller."""
    statuses = {}
    year = {"period_id": str(gateway.platform.school.year_period_id)}
    for view in DIARY_VIEWS:
        params = year if view in ("attendance", "rating") else {}
        response = await gateway.get(f"/api/v1/diary/{education_id}/{view}", token, **params)
        statuses[view] = response.status_code
        if response.status_code == 404:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["detail"] == f"no diary {education_id}"  # the same as a made-up id
    return statuses


ALL_OK = dict.fromkeys(DIARY_VIEWS, 200)
ALL_HIDDEN = dict.fromkeys(DIARY_VIEWS, 404)


async def test_a_parent_reads_only_the_children_linked_to_them(gateway: GatewayUnderTest) -> None:
    platform, school = gateway.platform, gateway.platform.school
    parent = await platform.parent_token("mother")
    staff = await platform.staff_token()
    application_id = await platform.link(parent, 0, staff)
    await gateway.linked(await account_id(gateway, parent), school.pupils[0])

    children = await gateway.get("/api/v1/children", parent)
    assert children.status_code == 200, children.text
    [child] = children.json()["items"]
    assert child["pupil_id"] == str(school.pupils[0])
    assert child["first_name"] == "Пётр"
    [education] = child["educations"]
    assert education["education_id"] == str(school.educations[0])
    assert education["class_name"] == "5А"
    assert education["school_name"] == "Школа № 77"
    assert education["is_active"] is True

    assert await readable(gateway, parent, school.educations[0]) == ALL_OK
    for other in [*school.educations[1:], uuid4()]:
        assert await readable(gateway, parent, other) == ALL_HIDDEN

    # Another parent, never linked, sees nothing and has no children.
    stranger = await platform.parent_token("stranger")
    assert (await gateway.get("/api/v1/children", stranger)).json() == {"items": []}
    assert await readable(gateway, stranger, school.educations[0]) == ALL_HIDDEN

    # The school ends the link: from the topic into the gateway within a second.
    revoked = await platform.applications.post(f"/applications/{application_id}/link-revocation", staff)
    assert revoked.status_code == 204, revoked.text
    started = time.monotonic()
    await gateway.linked(await account_id(gateway, parent), school.pupils[0], linked=False)
    assert time.monotonic() - started < 1.0
    assert await readable(gateway, parent, school.educations[0]) == ALL_HIDDEN
    assert (await gateway.get("/api/v1/children", parent)).json() == {"items": []}


async def test_pupils_teachers_staff_and_operators(gateway: GatewayUnderTest) -> None:
    school = gateway.platform.school
    pupil = await granted(gateway, Grant("pupil", school.school_id, school.pupils[3]))
    assert await readable(gateway, pupil, school.educations[3]) == ALL_OK
    assert await readable(gateway, pupil, school.educations[0]) == ALL_HIDDEN
    [me] = (await gateway.get("/api/v1/children", pupil)).json()["items"]
    assert me["pupil_id"] == str(school.pupils[3])

    teacher = await granted(gateway, Grant("teacher", school.school_id, school.maths_teacher))
    for education in school.educations:  # she teaches maths in both classes
        assert await readable(gateway, teacher, education) == ALL_OK

    staff = await gateway.platform.staff_token()
    assert await readable(gateway, staff, school.educations[2]) == ALL_OK

    # Another school's staff and teachers, and the platform's operators, read none of them.
    other_staff = await gateway.platform.staff_token(uuid4())
    operator = await granted(gateway, Grant("operator", None, None))
    for outsider in (other_staff, operator):
        assert await readable(gateway, outsider, school.educations[0]) == ALL_HIDDEN


async def test_no_token_a_bad_token_and_bad_input(gateway: GatewayUnderTest) -> None:
    school = gateway.platform.school
    path = f"/api/v1/diary/{school.educations[0]}/week"
    anonymous = await gateway.client.get(path)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = await gateway.client.get(path, headers=bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."))
    assert forged.status_code == 401
    assert forged.headers["content-type"].startswith("application/problem+json")

    staff = await gateway.platform.staff_token()
    bad_date = await gateway.get(path, staff, date="31.02.2026")
    assert bad_date.status_code == 422
    assert bad_date.json()["errors"][0]["field"] == "query.date"
    bad_id = await gateway.get("/api/v1/diary/not-an-id/week", staff)
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["field"] == "path.education_id"
