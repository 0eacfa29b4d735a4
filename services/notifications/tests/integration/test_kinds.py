"""Each kind of diary event a guardian was promised reaches their feed with its own words:
a correction, an absence, a lateness, a final mark, homework, and a rejected application."""

from collections.abc import Awaitable, Callable
from datetime import date, timedelta

from applications.testing import application_body
from diary_kernel.testing import eventually
from gradebook.testing import last_weekday, timetable
from identity.testing import unique_email
from notifications.testing import NotificationsUnderTest


async def test_every_promised_kind_reaches_the_feed(notifications: NotificationsUnderTest) -> None:
    platform, school = notifications.platform, notifications.platform.school
    gradebook, teacher = platform.gradebook, school.teacher()
    email = unique_email("kinds")
    token = (await platform.identity.registered(email))["access_token"]
    staff = await platform.staff_token()
    await platform.link(token, 0, staff)
    set_up = await gradebook.put(
        f"/classes/{school.class_a}/timetable", json=timetable(school, school.year[0]), headers=school.staff()
    )
    assert set_up.status_code == 200, set_up.text
    monday = last_weekday(date.today(), 1)
    lesson = f"/classes/{school.class_a}/lessons/{monday.isoformat()}/1"

    async def feed() -> dict[str, dict[str, str]]:
        items = (await notifications.get("/feed", token, limit=50)).json()["items"]
        return {item["kind"]: item for item in items}

    await eventually(lambda: _has(feed, "application_approved"), timeout=60)

    mark = {
        "education_id": str(school.educations[0]),
        "subject_id": str(school.maths),
        "lesson_date": monday.isoformat(),
        "value": "3",
    }
    recorded = await gradebook.post("/marks", json=mark, headers=teacher)
    assert recorded.status_code == 201, recorded.text
    corrected = await gradebook.post(
        f"/marks/{recorded.json()['mark_id']}/corrections",
        json={"value": "4", "reason": "перепроверена работа"},
        headers=teacher,
    )
    assert corrected.status_code in (200, 201), corrected.text
    attendance = {
        "entries": [
            {"education_id": str(school.educations[0]), "status": "absent", "absence_reason": "illness"},
            {"education_id": str(school.educations[1]), "status": "late", "minutes_late": 10},
        ]
    }
    assert (await gradebook.put(f"{lesson}/attendance", json=attendance, headers=teacher)).status_code == 200
    homework = {"due_on": (monday + timedelta(days=2)).isoformat(), "kind": "written", "text": "№ 245, 247"}
    assert (await gradebook.post(f"{lesson}/homework", json=homework, headers=teacher)).status_code == 201
    final = await gradebook.put(
        f"/final-marks/{school.educations[0]}/{school.maths}/{school.quarter_of(monday)}",
        json={"value": "4"},
        headers=teacher,
    )
    assert final.status_code in (200, 201), final.text

    wanted = {"mark_new", "mark_corrected", "absence", "final_mark", "homework"}
    shown = await eventually(lambda: _has(feed, *wanted), timeout=60)
    assert "4" in shown["mark_corrected"]["title"] + shown["mark_corrected"]["body"]
    assert "Математика" in shown["homework"]["body"] or "Математика" in shown["homework"]["title"]
    assert "lateness" not in shown  # the lateness was another pupil's

    # A rejected application is told to its applicant.
    other = application_body(
        school.school_id, surname="Неизвестный", first_name="Ученик", birth_date=date(2014, 1, 1)
    )
    filed = await platform.applications.file(token, other)
    rejected = await platform.applications.post(
        f"/applications/{filed.json()['application_id']}/rejection", staff, {"reason": "pupil_not_found"}
    )
    assert rejected.status_code == 204, rejected.text
    refusal = (await eventually(lambda: _has(feed, "application_rejected"), timeout=60))[
        "application_rejected"
    ]
    assert "не найден" in refusal["title"] + refusal["body"]

    async def every_letter() -> bool:  # the confirmation, then one per notice
        return len(notifications.smtp_sink.mailbox.to(email)) == 1 + 7

    await eventually(every_letter, timeout=30)


async def _has(
    feed: Callable[[], Awaitable[dict[str, dict[str, str]]]], *kinds: str
) -> dict[str, dict[str, str]] | None:
    found = await feed()
    return found if all(kind in found for kind in kinds) else None
