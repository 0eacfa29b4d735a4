"""Every command of the class journal over HTTP, and who may give it, against the real servers."""

import json
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from diary_kernel.testing import eventually
from gradebook.testing import TinySchool, actor_headers, last_weekday, timetable

pytestmark = pytest.mark.infra


@pytest.fixture
async def with_timetable(gradebook: Any, school: TinySchool) -> date:
    """The timetable of 5А is set from the start of the year; returns a recent Monday."""
    starts, _ = school.year
    response = await gradebook.client.put(
        f"/classes/{school.class_a}/timetable", json=timetable(school, starts), headers=school.staff()
    )
    assert response.status_code == 200, response.text
    assert response.json()["changed"] is True
    return last_weekday(date.today() - timedelta(days=1), 1)


def lesson(school: TinySchool, day: date, number: int) -> str:
    return f"/classes/{school.class_a}/lessons/{day.isoformat()}/{number}"


async def test_timetable_is_kept_by_the_schools_staff_only(gradebook: Any, school: TinySchool) -> None:
    client: httpx.AsyncClient = gradebook.client
    starts, _ = school.year
    body = timetable(school, starts)
    path = f"/classes/{school.class_a}/timetable"
    assert (await client.put(path, json=body)).status_code == 401
    assert (await client.put(path, json=body, headers=school.teacher())).status_code == 403
    other_school = actor_headers("school_staff", uuid4(), uuid4())
    assert (await client.put(path, json=body, headers=other_school)).status_code == 404
    assert (await client.put(path, json=body, headers=school.staff())).json()["changed"] is True
    assert (await client.put(path, json=body, headers=school.staff())).json()["changed"] is False

    wrong_teacher = {**body, "slots": [{**body["slots"][0], "teacher_id": str(school.russian_teacher)}]}
    refused = await client.put(path, json=wrong_teacher, headers=school.staff())
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "slots[0].teacher_id"
    twice = {**body, "slots": [body["slots"][0], body["slots"][0]]}
    assert (await client.put(path, json=twice, headers=school.staff())).json()["errors"][0][
        "field"
    ] == "slots[1]"
    backwards = {**body, "slots": [{**body["slots"][0], "ends_at": "08:00"}]}
    assert (await client.put(path, json=backwards, headers=school.staff())).json()["errors"][0]["field"] == (
        "slots[0].ends_at"
    )


async def test_a_teacher_keeps_the_journal_of_their_lesson(
    gradebook: Any, school: TinySchool, with_timetable: date
) -> None:
    client: httpx.AsyncClient = gradebook.client
    monday = with_timetable
    maths = lesson(school, monday, 1)
    topic = await client.put(
        f"{maths}/topic",
        json={"lesson_topic": "Обыкновенные дроби", "description": "§ 12"},
        headers=school.teacher(),
    )
    assert topic.status_code == 200, topic.text
    homework_id = str(uuid4())
    homework = {
        "homework_id": homework_id,
        "due_on": (monday + timedelta(days=2)).isoformat(),
        "kind": "written",
        "text": "№ 245, 247",
        "attachments": [{"title": "Карточка", "url": "https://school77.example/card.pdf"}],
    }
    created = await client.post(f"{maths}/homework", json=homework, headers=school.teacher())
    assert created.status_code == 201, created.text
    assert (
        await client.post(f"{maths}/homework", json=homework, headers=school.teacher())
    ).status_code == 200
    edited = await client.put(
        f"{maths}/homework/{homework_id}", json={**homework, "text": "№ 245–250"} | {"homework_id": None}
    )
    assert edited.status_code == 401
    edit = {k: v for k, v in homework.items() if k != "homework_id"} | {"text": "№ 245–250"}
    assert (await client.put(f"{maths}/homework/{homework_id}", json=edit, headers=school.teacher())).json()[
        "changed"
    ]
    removal = await client.post(
        f"{maths}/homework/{homework_id}/removal", json={"reason": "перенесено"}, headers=school.teacher()
    )
    assert removal.status_code == 200
    early = {**homework, "homework_id": str(uuid4()), "due_on": (monday - timedelta(days=1)).isoformat()}
    refused = await client.post(f"{maths}/homework", json=early, headers=school.teacher())
    assert refused.json()["errors"] == [
        {"field": "due_on", "message": "homework cannot be due before the lesson it is set in"}
    ]

    attendance = {
        "entries": [
            {"education_id": str(school.educations[0]), "status": "present"},
            {"education_id": str(school.educations[1]), "status": "absent", "absence_reason": "illness"},
            {"education_id": str(school.educations[2]), "status": "late", "minutes_late": 10},
        ]
    }
    marked = await client.put(f"{maths}/attendance", json=attendance, headers=school.teacher())
    assert marked.status_code == 200, marked.text
    assert marked.json()["changed"] is True
    again = await client.put(f"{maths}/attendance", json=attendance, headers=school.teacher())
    assert again.json()["changed"] is False
    outsider = {"entries": [{"education_id": str(school.educations[3]), "status": "present"}]}
    refused = await client.put(f"{maths}/attendance", json=outsider, headers=school.teacher())
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "entries[0].education_id"

    remark = {"education_id": str(school.educations[0]), "text": "Не выполнил домашнее задание"}
    assert (await client.post(f"{maths}/remarks", json=remark, headers=school.teacher())).status_code == 201

    # The Russian teacher may not write into the maths lesson; the wrong subject is named.
    russian = school.teacher(school.russian_teacher)
    assert (
        await client.put(f"{maths}/topic", json={"lesson_topic": "x"}, headers=russian)
    ).status_code == 403
    wrong_subject = {"lesson_topic": "x", "subject_id": str(school.russian)}
    response = await client.put(f"{maths}/topic", json=wrong_subject, headers=school.teacher())
    assert response.json()["errors"][0]["field"] == "subject_id"
    no_lesson = await client.put(
        f"{lesson(school, monday, 5)}/topic", json={"lesson_topic": "x"}, headers=school.teacher()
    )
    assert no_lesson.json()["errors"][0]["field"] == "lesson_number"


async def test_cancelled_and_substituted_lessons(
    gradebook: Any, school: TinySchool, with_timetable: date
) -> None:
    client: httpx.AsyncClient = gradebook.client
    tuesday = with_timetable + timedelta(days=1)
    changes = f"/classes/{school.class_a}/timetable/changes"
    cancel = {
        "lesson_date": tuesday.isoformat(),
        "lesson_number": 1,
        "kind": "cancellation",
        "reason": "карантин",
    }
    assert (await client.post(changes, json=cancel, headers=school.teacher())).status_code == 403
    assert (await client.post(changes, json=cancel, headers=school.staff())).status_code == 200
    topic = {"lesson_topic": "Дроби"}
    refused = await client.put(f"{lesson(school, tuesday, 1)}/topic", json=topic, headers=school.teacher())
    assert refused.json()["detail"] == "this lesson was cancelled"

    revert = f"{changes}/{tuesday.isoformat()}/1"
    assert (await client.delete(revert, headers=school.staff())).status_code == 200
    substitute = {
        "lesson_date": tuesday.isoformat(),
        "lesson_number": 1,
        "kind": "substitution",
        "teacher_id": str(school.russian_teacher),
        "reason": "болезнь учителя",
    }
    assert (await client.post(changes, json=substitute, headers=school.staff())).status_code == 200
    # The substitute may now keep this one maths lesson, and record a mark in it.
    russian = school.teacher(school.russian_teacher)
    assert (
        await client.put(f"{lesson(school, tuesday, 1)}/topic", json=topic, headers=russian)
    ).status_code == 200
    mark = {
        "education_id": str(school.educations[0]),
        "subject_id": str(school.maths),
        "lesson_date": tuesday.isoformat(),
        "lesson_number": 1,
        "value": "4",
    }
    assert (await client.post("/marks", json=mark, headers=russian)).status_code == 201
    # ... but not a maths lesson on another day.
    other_day = {**mark, "lesson_date": with_timetable.isoformat()}
    assert (await client.post("/marks", json=other_day, headers=russian)).status_code == 403


async def test_marks_are_corrected_and_removed_with_a_reason_and_an_author(
    gradebook: Any, school: TinySchool, with_timetable: date
) -> None:
    client: httpx.AsyncClient = gradebook.client
    mark_id = str(uuid4())
    mark = {
        "mark_id": mark_id,
        "education_id": str(school.educations[0]),
        "subject_id": str(school.maths),
        "lesson_date": with_timetable.isoformat(),
        "lesson_number": 1,
        "value": "3",
        "work_type": "контрольная работа",
        "comment": "ошибки в вычислениях",
    }
    assert (await client.post("/marks", json=mark)).status_code == 401
    recorded = await client.post("/marks", json=mark, headers=school.teacher())
    assert recorded.status_code == 201, recorded.text
    assert (await client.post("/marks", json=mark, headers=school.teacher())).status_code == 200  # a retry

    outsider = await client.post(
        "/marks", json={**mark, "mark_id": str(uuid4())}, headers=actor_headers("teacher", uuid4(), uuid4())
    )
    assert outsider.status_code == 404  # another school's pupil does not exist for them
    staff = await client.post("/marks", json={**mark, "mark_id": str(uuid4())}, headers=school.staff())
    assert staff.status_code == 403
    class_b_pupil = {**mark, "mark_id": str(uuid4()), "education_id": str(school.educations[3])}
    refused = await client.post("/marks", json=class_b_pupil, headers=school.teacher())
    assert refused.status_code == 422  # 5Б has no timetable: no lesson 1 that day
    assert refused.json()["errors"][0]["field"] == "lesson_number"
    no_lesson = {**class_b_pupil, "lesson_number": None}
    assert (await client.post("/marks", json=no_lesson, headers=school.teacher())).status_code == 201

    correction = {"value": "4", "reason": "пересчитан балл"}
    path = f"/marks/{mark_id}"
    not_author = school.teacher(school.russian_teacher)
    assert (await client.post(f"{path}/corrections", json=correction, headers=not_author)).status_code == 403
    corrected = await client.post(
        f"{path}/corrections", json=correction, headers={**school.teacher(), "If-Match": '"1"'}
    )
    assert corrected.status_code == 200, corrected.text
    stale = await client.post(
        f"{path}/corrections",
        json={**correction, "value": "5"},
        headers={**school.teacher(), "If-Match": '"1"'},
    )
    assert stale.status_code == 409
    removed = await client.post(
        f"{path}/removal", json={"reason": "работа списана"}, headers=school.teacher()
    )
    assert removed.json()["version"] == 3
    gone = await client.post(f"{path}/corrections", json=correction, headers=school.teacher())
    assert gone.status_code == 404

    async with gradebook.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT event_type, data FROM events WHERE stream_id = $1 ORDER BY version", f"mark-{mark_id}"
        )
    kinds = [row["event_type"].split(".")[-2] for row in rows]
    assert kinds == ["MarkRecorded", "MarkCorrected", "MarkRemoved"]
    data = [row["data"] if isinstance(row["data"], dict) else json.loads(row["data"]) for row in rows]
    assert data[0]["lesson_number"] == 1
    assert data[0]["class_id"] == str(school.class_a)
    assert data[1]["corrected_by"] == str(school.maths_teacher)
    assert data[2]["removed_by"] == str(school.maths_teacher)
    assert data[2]["reason"] == "работа списана"


async def test_final_marks_offer_the_weighted_average_and_need_a_reason_to_change(
    gradebook: Any, school: TinySchool, with_timetable: date
) -> None:
    client: httpx.AsyncClient = gradebook.client
    day = with_timetable
    for value, work_type in (("5", "контрольная работа"), ("4", "ответ на уроке")):
        mark = {
            "education_id": str(school.educations[0]),
            "subject_id": str(school.maths),
            "lesson_date": day.isoformat(),
            "value": value,
            "work_type": work_type,
        }
        assert (await client.post("/marks", json=mark, headers=school.teacher())).status_code == 201
    quarter = school.quarter_of(day)
    path = f"/final-marks/{school.educations[0]}/{school.maths}/{quarter}"

    async def both_marks_in_the_diary() -> bool:
        async with gradebook.pool.acquire() as conn:
            count = await conn.fetchval(
                "SELECT count(*) FROM diary_marks WHERE education_id = $1", school.educations[0]
            )
        return bool(count == 2)

    await eventually(both_marks_in_the_diary, timeout=20)
    first = await client.put(path, json={"value": "5"}, headers=school.teacher())
    assert first.status_code == 200, first.text
    assert first.json()["suggested_average"] == "4.75"  # (5·3 + 4·1) / 4
    no_reason = await client.put(path, json={"value": "4"}, headers=school.teacher())
    assert no_reason.json()["errors"] == [
        {"field": "reason", "message": "changing a final mark needs a reason"}
    ]
    changed = await client.put(
        path, json={"value": "4", "reason": "решение педсовета"}, headers=school.teacher()
    )
    assert changed.json()["version"] == 2
    russian = school.teacher(school.russian_teacher)
    assert (await client.put(path, json={"value": "3", "reason": "x"}, headers=russian)).status_code == 403
    other_period = f"/final-marks/{school.educations[0]}/{school.maths}/{uuid4()}"
    assert (await client.put(other_period, json={"value": "5"}, headers=school.teacher())).status_code == 404
