"""Notifications through the gateway: the in-app feed, the preferences and the letters'
unsubscribe link, with the notifications service (its faust worker a real process) behind the
gateway next to identity, gradebook and applications; and the «Уведомления» section of the
parents' web page in a real headless Chromium."""

import re
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from playwright.async_api import Browser, Page

from applications.testing import running_platform
from diary_devinfra.browser import new_page
from diary_devinfra.pytest_plugin import DatabaseFactory
from diary_devinfra.smtp_sink import SmtpSink
from diary_kernel.testing import bearer, eventually, listening
from gateway.testing import GATEWAY_URL, GatewayUnderTest, roster_arrived, running_gateway
from identity.testing import STRONG_PASSWORD, unique_email
from notifications.testing import NotificationsUnderTest, running_notifications

WEB = {"X-Diary-Client": "web"}
FEED = "/api/v1/notifications/feed"
PREFERENCES = "/api/v1/notifications/preferences"
FITS_PHONE = "document.documentElement.scrollWidth <= 360 && window.innerWidth <= 360"
UNSUBSCRIBE_LINK = re.compile(r"https?://[^/\s]+(/api/v1/notifications/unsubscribe\?token=[^\s\"'<>]+)")


@pytest.fixture
async def notified(
    database_factory: DatabaseFactory,
    kafka_bootstrap: str,
    topic_prefix: str,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> AsyncIterator[tuple[GatewayUnderTest, NotificationsUnderTest]]:
    """The gateway with notifications behind it."""
    async with (
        running_platform(database_factory, kafka_bootstrap, topic_prefix, smtp_sink) as platform,
        running_notifications(platform, await database_factory(), smtp_sink, tmp_path) as notifications,
        running_gateway(
            platform, await database_factory(), notifications_client=notifications.client
        ) as gateway,
    ):
        await roster_arrived(gateway)
        yield gateway, notifications


async def linked_parent(gateway: GatewayUnderTest, who: str, pupil: int = 0) -> tuple[str, str]:
    """A newly registered parent whose application for pupil number `pupil` the school approved."""
    email = unique_email(who)
    token: str = (await gateway.platform.identity.registered(email))["access_token"]
    await gateway.platform.link(token, pupil, await gateway.platform.staff_token())
    return email, token


async def feed_of(gateway: GatewayUnderTest, token: str, **params: Any) -> dict[str, Any]:
    answer = await gateway.get(FEED, token, **params)
    assert answer.status_code == 200, answer.text
    feed: dict[str, Any] = answer.json()
    return feed


async def approval_arrives(gateway: GatewayUnderTest, token: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        feed = await feed_of(gateway, token)
        return feed if feed["items"] else None

    feed = await eventually(probe, timeout=90, interval=0.25)
    assert feed is not None
    assert [item["kind"] for item in feed["items"]] == ["application_approved"]
    return feed


async def test_a_parent_reads_the_feed_and_keeps_preferences_through_the_gateway(
    notified: tuple[GatewayUnderTest, NotificationsUnderTest],
) -> None:
    gateway, notifications = notified
    client = gateway.client
    email, parent = await linked_parent(gateway, "notified")
    _, other = await linked_parent(gateway, "other-parent", pupil=1)

    # The school's approval is in the feed, unread.
    feed = await approval_arrives(gateway, parent)
    [item] = feed["items"]
    assert item["title"]
    assert item["body"]
    assert item["read"] is False
    assert feed["unread"] == 1
    assert feed["next_before"] is None  # one page
    unread = await gateway.get(f"{FEED}/unread-count", parent)
    assert (unread.status_code, unread.json()) == (200, {"unread": 1})

    # Another parent cannot touch it: it answers as if it did not exist.
    notification = item["notification_id"]
    foreign = await client.post(f"{FEED}/{notification}/read", headers=bearer(other))
    assert foreign.status_code == 404
    assert foreign.headers["content-type"].startswith("application/problem+json")
    assert (await gateway.get(f"{FEED}/unread-count", parent)).json() == {"unread": 1}
    missing = await client.post(f"{FEED}/{uuid4()}/read", headers=bearer(parent))
    assert missing.status_code == 404
    not_an_id = await client.post(f"{FEED}/not-an-id/read", headers=bearer(parent))
    assert not_an_id.status_code == 422
    assert [e["field"] for e in not_an_id.json()["errors"]] == ["path.notification_id"]

    read = await client.post(f"{FEED}/{notification}/read", headers=bearer(parent))
    assert read.status_code == 204, read.text
    assert (await gateway.get(f"{FEED}/unread-count", parent)).json() == {"unread": 0}
    feed = await feed_of(gateway, parent)
    assert feed["unread"] == 0
    assert feed["items"][0]["read"] is True
    everything = await client.post(f"{FEED}/read", headers=bearer(parent))
    assert (everything.status_code, everything.json()) == (200, {"unread": 0})

    # Paging: `before` is the previous page's `next_before`.
    await approval_arrives(gateway, other)
    first = await feed_of(gateway, other, limit=1)
    assert len(first["items"]) == 1
    assert first["next_before"]
    second = await feed_of(gateway, other, limit=1, before=first["next_before"])
    assert second["items"] == []
    bad_limit = await gateway.get(FEED, parent, limit=0)
    assert bad_limit.status_code == 422
    assert [e["field"] for e in bad_limit.json()["errors"]] == ["query.limit"]

    # The kinds, with their Russian titles, for the preferences form (no sign-in needed).
    kinds = await client.get("/api/v1/notifications/kinds")
    assert kinds.status_code == 200
    titles = {k["kind"]: k["title"] for k in kinds.json()}
    assert titles["mark_new"] == "Новые оценки"
    assert "application_approved" in titles

    # Preferences: the defaults, a change, the same on reading back.
    defaults = await gateway.get(PREFERENCES, parent)
    assert defaults.status_code == 200, defaults.text
    assert defaults.json()["email"] is True
    assert set(defaults.json()["kinds"]) == set(titles)
    wanted = {
        "kinds": ["mark_new", "absence"],
        "email": True,
        "feed": True,
        "mode": "digest",
        "quiet_from": None,
        "quiet_to": None,
        "digest_at": "20:30:00",
    }
    changed = await client.put(PREFERENCES, json=wanted, headers=bearer(parent))
    assert changed.status_code == 200, changed.text
    assert changed.json() == wanted
    assert (await gateway.get(PREFERENCES, parent)).json() == wanted
    assert (await gateway.get(PREFERENCES, other)).json() == defaults.json()  # one guardian's own

    # The service's refusal names the field; the gateway's own validation does too.
    half_quiet = await client.put(
        PREFERENCES, json={**wanted, "quiet_from": "22:00:00"}, headers=bearer(parent)
    )
    assert half_quiet.status_code == 422
    assert half_quiet.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in half_quiet.json()["errors"]] == ["quiet_to"]
    unknown_kind = await client.put(PREFERENCES, json={**wanted, "kinds": ["gossip"]}, headers=bearer(parent))
    assert unknown_kind.status_code == 422
    assert [e["field"] for e in unknown_kind.json()["errors"]] == ["kinds.0"]
    extra = await client.put(PREFERENCES, json={**wanted, "sms": True}, headers=bearer(parent))
    assert extra.status_code == 422
    assert (await gateway.get(PREFERENCES, parent)).json() == wanted  # nothing refused was kept

    # Signed in, not with a token: the page's cookie needs its header for a change.
    anonymous = await client.get(PREFERENCES)
    assert anonymous.status_code == 401
    session = await client.post("/api/v1/session", json={"email": email, "password": STRONG_PASSWORD})
    assert session.status_code == 200, session.text
    assert (await client.put(PREFERENCES, json=wanted)).status_code == 403
    assert (await client.post(f"{FEED}/read")).status_code == 403
    by_cookie = await client.put(PREFERENCES, json={**wanted, "mode": "instant"}, headers=WEB)
    assert by_cookie.status_code == 200, by_cookie.text
    assert (await client.get(f"{FEED}/unread-count")).json() == {"unread": 0}

    # The approval letter's unsubscribe link works through the gateway without signing in.
    letter = await notifications.smtp_sink.mailbox.wait_for(email, subject_contains="одобрено", timeout=60)
    text = letter.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = UNSUBSCRIBE_LINK.search(text)
    assert link is not None, text
    stranger_transport = httpx.ASGITransport(app=gateway.app)
    async with httpx.AsyncClient(transport=stranger_transport, base_url=GATEWAY_URL) as stranger:
        page = await stranger.get(link.group(1))  # a mail scanner opening it changes nothing
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "Отписаться" in page.text
        assert (await gateway.get(PREFERENCES, parent)).json()["email"] is True
        confirmed = await stranger.post(link.group(1), content=b"List-Unsubscribe=One-Click")
        assert confirmed.status_code == 200, confirmed.text
        assert "больше не будут приходить" in confirmed.text
        forged = await stranger.get(
            "/api/v1/notifications/unsubscribe", params={"token": f"{uuid4()}.AAAAAAAAAAAAAAAAAAAAAAAA"}
        )
        assert forged.status_code == 404
    after = (await gateway.get(PREFERENCES, parent)).json()
    assert after == {**wanted, "mode": "instant", "email": False}


async def test_the_notification_routes_are_documented_and_answer_502_without_the_service(
    gateway: GatewayUnderTest,
) -> None:
    document = (await gateway.client.get("/openapi.json")).json()
    paths = document["paths"]
    feed = paths[FEED]["get"]["responses"]["200"]["content"]["application/json"]
    assert feed["schema"]["$ref"].endswith("/Feed")
    assert paths[PREFERENCES]["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PreferencesBody"
    )
    for path in (
        "/api/v1/notifications/kinds",
        f"{FEED}/unread-count",
        f"{FEED}/read",
        f"{FEED}/{{notification_id}}/read",
        "/api/v1/notifications/unsubscribe",
    ):
        assert path in paths, path
    parent = await gateway.platform.parent_token()
    down = await gateway.get(f"{FEED}/unread-count", parent)
    assert down.status_code == 502
    assert down.headers["content-type"].startswith("application/problem+json")


async def test_the_page_shows_the_feed_and_saves_preferences(
    notified: tuple[GatewayUnderTest, NotificationsUnderTest], browser: Browser
) -> None:
    gateway, _ = notified
    email, parent = await linked_parent(gateway, "web-notified")
    account = UUID((await gateway.get("/api/v1/me", parent)).json()["account_id"])
    await gateway.linked(account, gateway.platform.school.pupils[0])
    await approval_arrives(gateway, parent)

    async with (
        listening(gateway.app) as url,
        new_page(browser, base_url=url, viewport=(360, 740), is_mobile=True, has_touch=True) as page,
    ):
        await sign_in(page, email)
        badge = page.get_by_test_id("unread-badge")
        await badge.wait_for(timeout=15_000)
        assert (await badge.inner_text()).strip() == "1"

        await page.get_by_test_id("nav-notifications").click()
        item = page.get_by_test_id("notification")
        await item.first.wait_for(timeout=15_000)
        assert await item.count() == 1
        assert await item.first.get_attribute("data-read") == "false"
        await item.first.click()
        await page.locator("[data-testid=notification][data-read=true]").wait_for(timeout=10_000)
        await badge.wait_for(state="hidden", timeout=10_000)
        assert (await gateway.get(f"{FEED}/unread-count", parent)).json() == {"unread": 0}
        assert await page.evaluate(FITS_PHONE)

        # A new notice: the polled count raises the badge and the open feed takes it in at the top.
        await record_mark(gateway, pupil=0, value="5")
        await badge.wait_for(timeout=60_000)
        assert (await badge.inner_text()).strip() == "1"
        await item.nth(1).wait_for(timeout=10_000)
        assert await item.first.get_attribute("data-read") == "false"
        assert await item.nth(1).get_attribute("data-read") == "true"
        await page.get_by_test_id("mark-all-read").click()
        await badge.wait_for(state="hidden", timeout=10_000)
        assert await page.locator("[data-testid=notification][data-read=false]").count() == 0
        assert (await gateway.get(f"{FEED}/unread-count", parent)).json() == {"unread": 0}

        # Preferences: titles from the kinds, a refusal next to its field, then a save.
        form = page.get_by_test_id("preferences-form")
        await form.wait_for()
        assert await form.get_by_label("Новые оценки").is_checked()
        await form.get_by_label("Новые оценки").uncheck()
        await form.get_by_test_id("pref-mode-digest").check()
        await form.get_by_test_id("pref-digest-at").fill("20:30")
        await form.get_by_test_id("pref-quiet-from").fill("22:00")  # the tests' default has none
        await form.get_by_test_id("pref-quiet-to").fill("")
        await form.get_by_test_id("preferences-save").click()
        error = form.get_by_test_id("error-quiet_to")
        await error.wait_for(timeout=10_000)
        assert "до какого времени" in await error.inner_text()

        await form.get_by_test_id("pref-quiet-from").fill("")
        await form.get_by_test_id("preferences-save").click()
        await page.get_by_test_id("preferences-saved").wait_for(timeout=10_000)
        assert await error.is_hidden()
        saved = (await gateway.get(PREFERENCES, parent)).json()
        assert "mark_new" not in saved["kinds"]
        assert (saved["mode"], saved["digest_at"], saved["quiet_from"], saved["quiet_to"]) == (
            "digest",
            "20:30:00",
            None,
            None,
        )
        assert await page.evaluate(FITS_PHONE)

        # Read back after a reload.
        await page.reload()
        form = page.get_by_test_id("preferences-form")
        await form.wait_for(timeout=15_000)
        assert not await form.get_by_label("Новые оценки").is_checked()
        assert await form.get_by_test_id("pref-mode-digest").is_checked()
        assert await form.get_by_test_id("pref-digest-at").input_value() == "20:30"
        assert await form.get_by_test_id("pref-quiet-from").input_value() == ""


async def record_mark(gateway: GatewayUnderTest, *, pupil: int, value: str) -> None:
    school = gateway.platform.school
    mark = {
        "education_id": str(school.educations[pupil]),
        "subject_id": str(school.maths),
        "lesson_date": date.today().isoformat(),
        "value": value,
        "work_type": "контрольная работа",
    }
    recorded = await gateway.platform.gradebook.post("/marks", json=mark, headers=school.teacher())
    assert recorded.status_code == 201, recorded.text


async def sign_in(page: Page, email: str) -> None:
    await page.goto("/login")
    await page.get_by_test_id("login-email").fill(email)
    await page.get_by_test_id("login-password").fill(STRONG_PASSWORD)
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("nav-notifications").wait_for(timeout=15_000)
