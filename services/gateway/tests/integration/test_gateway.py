"""What a parent's client relies on beyond authorisation: the cookie session, applications and
the teacher's journal through the gateway, ETags, paging, rate limits, request ids, one OpenAPI."""

import logging
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import httpx
import jwt
import pytest

from applications.testing import application_body
from diary_devinfra.pytest_plugin import DatabaseFactory, OidcTestProvider
from diary_kernel.testing import bearer, eventually
from gateway.testing import GatewayUnderTest, running_gateway
from identity.domain.accounts import Grant
from identity.testing import STRONG_PASSWORD, unique_email

WEB = {"X-Diary-Client": "web"}


async def test_the_web_session_lives_in_cookies(gateway: GatewayUnderTest) -> None:
    email = unique_email("cookie")
    await gateway.platform.identity.registered(email)
    client = gateway.client

    wrong = await client.post("/api/v1/session", json={"email": email, "password": "not the password"})
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers

    signed_in = await client.post("/api/v1/session", json={"email": email, "password": STRONG_PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    assert "access_token" not in signed_in.text  # the page never sees a token
    assert [r["role"] for r in signed_in.json()["roles"]] == ["parent"]
    cookies = signed_in.headers.get_list("set-cookie")
    assert any(c.startswith("diary_access=") and "HttpOnly" in c and "SameSite=strict" in c for c in cookies)
    assert any(c.startswith("diary_refresh=") and "Path=/api/v1/session" in c for c in cookies)

    me = await client.get("/api/v1/me")  # the cookie jar carries the session
    assert me.status_code == 200
    assert me.json()["email"] == email

    # A cookie-signed change needs the page's header: another site cannot add it.
    school = gateway.platform.school
    body = application_body(
        school.school_id, surname="Соколов", first_name="Артём", birth_date=date(2014, 5, 10)
    )
    forged = await client.post("/api/v1/applications", json=body)
    assert forged.status_code == 403
    filed = await client.post("/api/v1/applications", json=body, headers=WEB)
    assert filed.status_code == 201, filed.text
    application_id = filed.json()["application_id"]
    assert filed.headers["location"] == f"/api/v1/applications/{application_id}"

    async def listed() -> list[dict[str, str]]:
        mine: list[dict[str, str]] = (await client.get("/api/v1/applications")).json()
        return mine

    [mine] = await eventually(listed, timeout=20)
    assert mine["application_id"] == application_id
    assert mine["state"] == "pending"

    refreshed = await client.post("/api/v1/session/refresh", headers=WEB)
    assert refreshed.status_code == 200, refreshed.text
    logged_out = await client.post("/api/v1/session/logout", headers=WEB)
    assert logged_out.status_code == 204
    client.cookies.clear()
    assert (await client.get("/api/v1/me")).status_code == 401
    assert (await client.post("/api/v1/session/refresh", headers=WEB)).status_code == 401


async def test_applications_and_the_journal_pass_through_with_the_callers_token(
    gateway: GatewayUnderTest,
) -> None:
    platform, school = gateway.platform, gateway.platform.school
    parent = await platform.parent_token()
    consent = await gateway.client.get("/api/v1/consent-texts/current")
    assert consent.status_code == 200
    schools = await gateway.get("/api/v1/schools", parent)
    assert str(school.school_id) in [s["school_id"] for s in schools.json()]
    invalid = {
        **platform.application_for(1),
        "consent": {"version": consent.json()["version"], "accepted": False},
    }
    refused = await gateway.client.post("/api/v1/applications", json=invalid, headers=bearer(parent))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "consent.accepted"
    body = platform.application_for(1)
    filed = await gateway.client.post("/api/v1/applications", json=body, headers=bearer(parent))
    application_id = filed.json()["application_id"]

    staff = await platform.staff_token()
    queue = await gateway.get(f"/api/v1/schools/{school.school_id}/applications", staff)
    assert application_id in [a["application_id"] for a in queue.json()["items"]]
    assert (await gateway.get(f"/api/v1/schools/{school.school_id}/applications", parent)).status_code == 403
    approved = await gateway.client.post(
        f"/api/v1/applications/{application_id}/approval",
        json={"pupil_id": str(school.pupils[1])},
        headers=bearer(staff),
    )
    assert approved.status_code == 204, approved.text
    me = UUID((await gateway.get("/api/v1/me", parent)).json()["account_id"])
    await gateway.linked(me, school.pupils[1])

    # The maths teacher records a mark through the gateway, with her own token.
    teacher = (
        await platform.identity.invited(
            unique_email("teacher"), Grant("teacher", school.school_id, school.maths_teacher)
        )
    )["access_token"]
    day = date.today()
    mark = {
        "education_id": str(school.educations[1]),
        "subject_id": str(school.maths),
        "lesson_date": day.isoformat(),
        "value": "5",
        "work_type": "контрольная работа",
    }
    recorded = await gateway.client.post("/api/v1/journal/marks", json=mark, headers=bearer(teacher))
    assert recorded.status_code == 201, recorded.text
    assert recorded.headers["location"].startswith("/api/v1/journal/marks/")
    # A parent cannot write the journal, whatever X-Actor headers they make up.
    forged = {"X-Actor-Role": "teacher", "X-Actor-Id": str(school.maths_teacher), **bearer(parent)}
    assert (await gateway.client.post("/api/v1/journal/marks", json=mark, headers=forged)).status_code == 403

    week = f"/api/v1/diary/{school.educations[1]}/week"

    async def mark_in_diary() -> str | None:
        response = await gateway.get(week, parent, date=day.isoformat())
        days = response.json()["days"]
        values = [
            m["value"]
            for d in days
            for m in [*d["other_marks"], *(x for lesson in d["lessons"] for x in lesson["marks"])]
        ]
        return response.headers["etag"] if "5" in values else None

    etag = await eventually(mark_in_diary, timeout=20)
    unchanged = await gateway.client.get(
        week, params={"date": day.isoformat()}, headers={**bearer(parent), "If-None-Match": etag}
    )
    assert unchanged.status_code == 304
    assert unchanged.content == b""


async def test_marks_are_paged_with_averages_over_the_whole_range(gateway: GatewayUnderTest) -> None:
    platform, school = gateway.platform, gateway.platform.school
    staff = await platform.staff_token()
    teacher = (
        await platform.identity.invited(
            unique_email("teacher"), Grant("teacher", school.school_id, school.maths_teacher)
        )
    )["access_token"]
    start = school.year[0] + timedelta(days=7)
    values = ["5", "4", "3", "5", "4"]
    for n, value in enumerate(values):
        mark = {
            "education_id": str(school.educations[2]),
            "subject_id": str(school.maths),
            "lesson_date": (start + timedelta(days=n)).isoformat(),
            "value": value,
        }
        assert (
            await gateway.client.post("/api/v1/journal/marks", json=mark, headers=bearer(teacher))
        ).status_code == 201
    path = f"/api/v1/diary/{school.educations[2]}/marks"
    params = {"period_id": str(school.year_period_id), "per_page": "2"}

    async def all_marks() -> bool:
        response = await gateway.client.get(path, params=params, headers=bearer(staff))
        return response.headers.get("x-total-count") == str(len(values))

    await eventually(all_marks, timeout=20)
    pages = [
        await gateway.client.get(path, params={**params, "page": str(n)}, headers=bearer(staff))
        for n in (1, 2, 3)
    ]
    assert [len(p.json()["marks"]) for p in pages] == [2, 2, 1]
    assert [m["value"] for p in pages for m in p.json()["marks"]] == values  # in date order
    assert 'rel="next"' in pages[0].headers["link"]
    assert 'rel="prev"' in pages[2].headers["link"]
    assert 'rel="next"' not in pages[2].headers["link"]
    [average] = pages[2].json()["averages"]
    assert average["marks"] == len(values)  # over the range, not the page


async def test_rate_limits_answer_429_with_retry_after(
    gateway: GatewayUnderTest, database_factory: DatabaseFactory
) -> None:
    async with running_gateway(
        gateway.platform, await database_factory(), account_burst=3, account_requests_per_minute=6
    ) as tight:
        token = await gateway.platform.parent_token()
        statuses = [(await tight.get("/api/v1/children", token)).status_code for _ in range(5)]
        assert statuses[:3] == [200, 200, 200]
        limited = await tight.get("/api/v1/children", token)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["content-type"].startswith("application/problem+json")
        other = await gateway.platform.parent_token("other")
        assert (await tight.get("/api/v1/children", other)).status_code == 200  # per client


async def test_request_ids_reach_the_services_logs(
    gateway: GatewayUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    school = gateway.platform.school
    staff = await gateway.platform.staff_token()
    rid = uuid4().hex
    with caplog.at_level(logging.INFO, logger="diary_kernel.service"):
        response = await gateway.client.get(
            f"/api/v1/diary/{school.educations[0]}/teachers", headers={**bearer(staff), "X-Request-ID": rid}
        )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == rid
    routes = {getattr(r, "route", None) for r in caplog.records if getattr(r, "request_id", None) == rid}
    assert routes == {"/api/v1/diary/{education_id}/teachers", "/diary/{education_id}/teachers"}


async def test_one_openapi_document_for_the_whole_front_door(gateway: GatewayUnderTest) -> None:
    document = (await gateway.client.get("/openapi.json")).json()
    paths = document["paths"]
    for path in (
        "/api/v1/children",
        "/api/v1/diary/{education_id}/week",
        "/api/v1/diary/{education_id}/marks",
        "/api/v1/diary/{education_id}/final-marks",
        "/api/v1/diary/{education_id}/exams",
        "/api/v1/applications",
        "/api/v1/session",
        "/federated/esia/login",
    ):
        assert path in paths, path
    week = paths["/api/v1/diary/{education_id}/week"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]
    assert week["schema"]["$ref"].endswith("/DiaryWeek")
    assert "DiaryLesson" in document["components"]["schemas"]
    assert "404" in paths["/api/v1/diary/{education_id}/week"]["get"]["responses"]


async def test_a_rotated_signing_key_is_picked_up_without_a_restart(gateway: GatewayUnderTest) -> None:
    identity = gateway.platform.identity
    email = unique_email("rotation")
    before = (await identity.registered(email))["access_token"]
    assert (await gateway.get("/api/v1/children", before)).status_code == 200  # the old key set is cached
    ahead = identity.service.keys._ahead  # rotate so that the new key signs at once
    async with identity.pool.acquire() as conn:
        new_kid = await identity.service.keys.rotate(conn, datetime.now(UTC) - ahead)
    after = (await identity.login(email)).json()["access_token"]
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    assert jwt.get_unverified_header(before)["kid"] != new_kid

    async def accepted() -> bool:
        return (await gateway.get("/api/v1/children", after)).status_code == 200

    # An unknown key id makes the gateway fetch the key set again, at most every few seconds.
    await eventually(accepted, timeout=10, interval=0.5)
    assert (await gateway.get("/api/v1/children", before)).status_code == 200


async def test_esia_login_through_the_gateway_ends_signed_in_on_the_page(
    gateway: GatewayUnderTest, oidc_provider: OidcTestProvider
) -> None:
    client = gateway.client
    started = await client.get("/federated/esia/login")
    assert started.status_code == 302
    assert started.headers["location"].startswith(oidc_provider.issuer)
    assert "diary_esia_login=" in started.headers["set-cookie"]  # the login is bound to this browser
    account = oidc_provider.account("petrov.parent@example.org")
    async with httpx.AsyncClient(timeout=10) as browser_at_the_provider:
        callback = await oidc_provider.login(
            browser_at_the_provider, started.headers["location"], account.login, account.password
        )
    back = urlsplit(callback)
    landed = await client.get(f"/federated/esia/callback?{back.query}")
    assert landed.status_code == 303
    assert landed.headers["location"] == "/"
    me = await client.get("/api/v1/me")  # the session cookies came with the redirect
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "petrov.parent@example.org"
    assert me.json()["esia_linked"] is True

    client.cookies.clear()
    replayed = await client.get(f"/federated/esia/callback?{back.query}")  # no binding cookie, used code
    assert replayed.status_code == 303
    assert replayed.headers["location"] == "/login?error=esia"
    assert (await client.get("/api/v1/me")).status_code == 401
