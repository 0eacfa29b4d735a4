"""The parents' web page in a real headless Chromium (Debian's), against the gateway over HTTP
with identity, gradebook and applications behind it: sign in, switch child, and see a mark the
teacher has just recorded appear without reloading."""

from datetime import date, timedelta
from uuid import UUID

import httpx
from playwright.async_api import Browser

from diary_devinfra.browser import new_page
from diary_kernel.testing import bearer, listening
from gateway.testing import GatewayUnderTest
from identity.domain.accounts import Grant
from identity.testing import STRONG_PASSWORD, unique_email


async def test_a_parent_signs_in_switches_child_and_sees_a_new_mark_appear(
    gateway: GatewayUnderTest, browser: Browser
) -> None:
    platform, school = gateway.platform, gateway.platform.school
    email = unique_email("web")
    parent = (await platform.identity.registered(email))["access_token"]
    staff = await platform.staff_token()
    await platform.link(parent, 0, staff)
    await platform.link(parent, 1, staff)
    account = UUID((await gateway.get("/api/v1/me", parent)).json()["account_id"])
    for pupil in school.pupils[:2]:
        await gateway.linked(account, pupil)
    teacher = (
        await platform.identity.invited(
            unique_email("teacher"), Grant("teacher", school.school_id, school.maths_teacher)
        )
    )["access_token"]
    monday = date.today() - timedelta(days=date.today().weekday())  # in the week the page opens on

    async with (
        listening(gateway.app) as url,
        new_page(browser, base_url=url, viewport=(360, 740), is_mobile=True, has_touch=True) as page,
        httpx.AsyncClient(base_url=url) as teachers_app,
    ):
        await page.goto("/login")
        await page.get_by_test_id("login-email").fill(email)
        await page.get_by_test_id("login-password").fill(STRONG_PASSWORD)
        await page.get_by_test_id("login-submit").click()

        switcher = page.get_by_test_id("child-switcher")
        await switcher.wait_for(timeout=15_000)
        assert sorted(await switcher.locator("option").all_inner_texts()) == ["Мария", "Пётр"]
        await switcher.select_option(str(school.pupils[1]))  # Мария
        await page.get_by_test_id("week").wait_for(timeout=15_000)
        assert await page.get_by_test_id("mark").count() == 0

        mark = {
            "education_id": str(school.educations[1]),
            "subject_id": str(school.maths),
            "lesson_date": monday.isoformat(),
            "value": "4",
            "work_type": "контрольная работа",
        }
        recorded = await teachers_app.post("/api/v1/journal/marks", json=mark, headers=bearer(teacher))
        assert recorded.status_code == 201, recorded.text

        # The open page polls with its ETag: the mark arrives within seconds, no reload.
        await page.get_by_test_id("mark").filter(has_text="4").first.wait_for(timeout=20_000)
        assert await page.evaluate("document.documentElement.scrollWidth <= 360 && window.innerWidth <= 360")
        assert "Кузнецова" not in await page.title()  # no minor's full name in the tab

        # Switching back shows Пётр's diary, where that mark is not.
        await switcher.select_option(str(school.pupils[0]))
        await (
            page.get_by_test_id("mark").filter(has_text="4").first.wait_for(state="detached", timeout=10_000)
        )
        await page.get_by_test_id("week").wait_for()
