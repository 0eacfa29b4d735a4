"""The `make run` demo against a running gradebook (real Kafka and PostgreSQL): the generated
schools go in through the registry topic and the journal API, and the diary shows their weeks."""

from datetime import timedelta
from typing import Any

import pytest

from diary_kernel.testing import eventually
from gradebook.demo.school import demo_generator, load_demo

pytestmark = pytest.mark.infra


async def test_the_demo_fills_the_diary_week_with_what_the_teachers_recorded(gradebook: Any) -> None:
    summary = await load_demo(
        "http://gradebook",
        gradebook.bootstrap,
        topic_prefix=gradebook.topic_prefix,
        weeks=2,
        client=gradebook.client,
    )
    assert not summary.journal.refused, summary.journal.examples
    assert summary.journal.lessons > 300
    assert summary.journal.marks > 1000

    # What the generator says the demo pupil's last week holds must be what their diary shows.
    generator = demo_generator(weeks=2)
    school = generator.school(0)
    monday = summary.last_day - timedelta(days=summary.last_day.weekday())
    week = [d for d in generator.days if d >= monday]
    pupil = summary.education_id
    lessons = [
        lesson
        for lesson in generator.journal(school, week)
        if any(str(e.education_id) == pupil for e in school.members(lesson.class_id, lesson.lesson_date))
    ]
    marks = {
        str(m.mark_id): m.value for lesson in lessons for m in lesson.marks if str(m.education_id) == pupil
    }
    topics = {(lesson.lesson_date.isoformat(), lesson.lesson_number): lesson.topic for lesson in lessons}

    async def diary_week() -> dict[str, Any] | None:
        response = await gradebook.client.get(f"/diary/{pupil}/week", params={"date": monday.isoformat()})
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        shown = {m["mark_id"] for day in body["days"] for lesson in day["lessons"] for m in lesson["marks"]}
        return body if set(marks) <= shown else None

    body = await eventually(diary_week, timeout=60)
    shown_topics = {
        (day["date"], lesson["lesson_number"]): lesson["lesson_topic"]
        for day in body["days"]
        for lesson in day["lessons"]
    }
    assert {key: shown_topics.get(key) for key in topics} == topics
    shown_marks = {
        m["mark_id"]: m["value"] for day in body["days"] for lesson in day["lessons"] for m in lesson["marks"]
    }
    assert {mark_id: shown_marks[mark_id] for mark_id in marks} == marks

    # The pupil who moved keeps both diaries: the old one ends, the new one has its first marks.
    assert summary.moved_education_ids is not None
    old, new = summary.moved_education_ids

    async def new_diary_has_marks() -> bool:
        response = await gradebook.client.get(f"/diary/{new}/marks")
        return response.status_code == 200 and bool(response.json()["marks"])

    await eventually(new_diary_has_marks, timeout=60)
    assert (await gradebook.client.get(f"/diary/{old}/marks")).status_code == 200
