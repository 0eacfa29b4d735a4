"""A guardian who asked for a daily digest gets one letter for the day's marks, at the chosen
time; the in-app feed still shows each mark at once. Preferences are theirs alone."""

import asyncio
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from diary_kernel.testing import bearer, eventually
from identity.testing import unique_email
from notifications.testing import NotificationsUnderTest

MOSCOW = ZoneInfo("Europe/Moscow")


async def test_a_days_marks_come_in_one_digest_letter(notifications: NotificationsUnderTest) -> None:
    platform, sink, school = notifications.platform, notifications.smtp_sink, notifications.platform.school
    email = unique_email("digest")
    token = (await platform.identity.registered(email))["access_token"]
    staff = await platform.staff_token()
    before = len(sink.mailbox.to(email))
    await platform.link(token, 0, staff)
    # Instant by default: the approval comes at once, and the link is in the worker's table
    # before any mark (marks come from another service, by another path).
    await sink.mailbox.wait_for(email, after=before, timeout=60)

    if datetime.now(MOSCOW).time() > time(23, 59, 0):
        await asyncio.sleep(61)  # the digest's day must not change under the test
    digest_at = (datetime.now(MOSCOW) + timedelta(seconds=15)).time().replace(microsecond=0)
    preferences = {
        "kinds": ["mark_new", "application_approved"],
        "email": True,
        "feed": True,
        "mode": "digest",
        "quiet_from": None,
        "quiet_to": None,
        "digest_at": digest_at.isoformat(),
    }
    saved = await notifications.client.put("/preferences", json=preferences, headers=bearer(token))
    assert saved.status_code == 200, saved.text
    assert (await notifications.get("/preferences", token)).json()["mode"] == "digest"
    invalid = {**preferences, "quiet_to": "07:00"}  # one end of the quiet hours only
    refused = await notifications.client.put("/preferences", json=invalid, headers=bearer(token))
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "quiet_from"

    async def feed_kinds() -> list[str]:
        items = (await notifications.get("/feed", token)).json()["items"]
        return [i["kind"] for i in items]

    before = len(sink.mailbox.to(email))
    for value in ("5", "4", "3"):
        mark = {
            "education_id": str(school.educations[0]),
            "subject_id": str(school.maths),
            "lesson_date": date.today().isoformat(),
            "value": value,
        }
        assert (
            await platform.gradebook.post("/marks", json=mark, headers=school.teacher())
        ).status_code == 201

    async def three_marks() -> bool:
        return (await feed_kinds()).count("mark_new") == 3

    await eventually(three_marks, timeout=30)  # the feed does not wait for the digest
    assert len(sink.mailbox.to(email)) == before  # nothing by e-mail yet

    digest = await sink.mailbox.wait_for(email, after=before, timeout=40)
    assert datetime.now(MOSCOW).time() >= digest_at
    text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "3 оценки" in str(digest["Subject"]) + text
    for value in ("5", "4", "3"):
        assert value in text
    await asyncio.sleep(2)
    assert len(sink.mailbox.to(email)) == before + 1  # one letter for the day's marks
