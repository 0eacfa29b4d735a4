"""A diary event reaches each linked guardian once per channel; an unlinked one hears nothing."""

import asyncio
from datetime import date
from typing import Any
from uuid import UUID

from identity.testing import unique_email
from notifications.testing import NotificationsUnderTest


async def guardian(notifications: NotificationsUnderTest, who: str) -> tuple[str, str]:
    email = unique_email(who)
    token = (await notifications.platform.identity.registered(email))["access_token"]
    return email, token


async def record_mark(notifications: NotificationsUnderTest, pupil: int, value: str) -> UUID:
    school = notifications.platform.school
    mark: dict[str, Any] = {
        "education_id": str(school.educations[pupil]),
        "subject_id": str(school.maths),
        "lesson_date": date.today().isoformat(),
        "value": value,
        "work_type": "контрольная работа",
    }
    recorded = await notifications.platform.gradebook.post("/marks", json=mark, headers=school.teacher())
    assert recorded.status_code == 201, recorded.text
    return UUID(recorded.json()["mark_id"])


async def test_two_guardians_each_get_one_email_and_one_feed_entry_and_unlinking_stops_them(
    notifications: NotificationsUnderTest,
) -> None:
    platform, sink = notifications.platform, notifications.smtp_sink
    (mother, mother_token), (father, father_token) = (
        await guardian(notifications, "mother"),
        await guardian(notifications, "father"),
    )
    staff = await platform.staff_token()
    await platform.link(mother_token, 0, staff)
    fathers_link = await platform.link(father_token, 0, staff)
    approved = [
        await sink.mailbox.wait_for(address, subject_contains="одобрено", timeout=60)
        for address in (mother, father)
    ]
    assert len(approved) == 2

    before = {address: len(sink.mailbox.to(address)) for address in (mother, father)}
    await record_mark(notifications, 0, "5")
    for address in (mother, father):
        letter = await sink.mailbox.wait_for(address, after=before[address], timeout=60)
        text = letter.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "5" in str(letter["Subject"]) + text
        assert "Математика" in text
        assert "unsubscribe" in text
    await _settled()
    assert {address: len(sink.mailbox.to(address)) - before[address] for address in (mother, father)} == {
        mother: 1,
        father: 1,
    }
    for token in (mother_token, father_token):
        feed = (await notifications.get("/feed", token)).json()
        assert [item["kind"] for item in feed["items"]] == ["mark_new", "application_approved"]
        assert feed["unread"] == 2

    revoked = await platform.applications.post(f"/applications/{fathers_link}/link-revocation", staff)
    assert revoked.status_code == 204
    await _settled(3.0)  # ParentUnlinked reaches the worker's table
    before = {address: len(sink.mailbox.to(address)) for address in (mother, father)}
    await record_mark(notifications, 0, "4")
    await sink.mailbox.wait_for(mother, after=before[mother], timeout=60)
    await _settled()
    assert len(sink.mailbox.to(father)) == before[father]
    assert [i["kind"] for i in (await notifications.get("/feed", father_token)).json()["items"]] == [
        "mark_new",
        "application_approved",
    ]

    # The in-app feed: mark one read, then all.
    feed = (await notifications.get("/feed", mother_token)).json()
    first = feed["items"][0]["notification_id"]
    assert (
        await notifications.client.post(
            f"/feed/{first}/read", headers={"Authorization": f"Bearer {mother_token}"}
        )
    ).status_code == 204
    assert (await notifications.get("/feed/unread-count", mother_token)).json() == {
        "unread": feed["unread"] - 1
    }
    # Another guardian's notification answers as if it did not exist.
    assert (
        await notifications.client.post(
            f"/feed/{first}/read", headers={"Authorization": f"Bearer {father_token}"}
        )
    ).status_code == 404


async def _settled(seconds: float = 1.5) -> None:
    """Give a wrong extra letter the time to arrive before counting."""
    await asyncio.sleep(seconds)
