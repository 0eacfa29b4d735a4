"""The roster arrives from the school registry's topic and becomes the gradebook's own events."""

from datetime import date, timedelta
from typing import Any

import orjson
import pytest

from diary_events.exams import EXAM_RESULTS_TOPIC, ExamResultRecord
from diary_events.personal import SealedPersonalData
from diary_events.registry import ClassRecord, EnrolmentRecord, PupilRecord, SchoolRecord
from diary_kernel.personal_data import PersonalDataKeys
from diary_kernel.testing import eventually, read_topic
from gradebook.adapters import diary_queries as q
from gradebook.adapters import roster_read_model as roster
from gradebook.erasure import erase_pupil
from gradebook.testing import TinySchool, publish, registry_message

pytestmark = pytest.mark.infra


def as_json(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else orjson.loads(value)  # type: ignore[no-any-return]


async def stream_events(gradebook: Any, stream_type: str | None = None) -> list[tuple[str, str]]:
    async with gradebook.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT e.stream_id, e.event_type FROM events e JOIN event_streams s USING (stream_id)
               WHERE $1::text IS NULL OR s.stream_type = $1 ORDER BY e.position""",
            stream_type,
        )
    return [(row["stream_id"], row["event_type"].split(".")[-2]) for row in rows]


async def test_the_registry_roster_becomes_gradebook_events(gradebook: Any, school: TinySchool) -> None:
    kinds = [kind for _, kind in await stream_events(gradebook)]
    assert kinds.count("SchoolRegistered") == 1
    assert kinds.count("SubjectRegistered") == 2
    assert kinds.count("SchoolYearOpened") == 1
    assert kinds.count("TeacherRegistered") == 2
    assert kinds.count("ClassOpened") == 2
    assert kinds.count("PupilRegistered") == 4
    assert kinds.count("PupilEnrolled") == 4
    assert kinds.count("TeacherAssigned") == 4

    published = await read_topic(
        gradebook.bootstrap, gradebook.topic_prefix + "gradebook.events.v1", expected=len(kinds), timeout=20
    )
    assert len(published) == len(kinds)
    # A pupil's name never travels in clear: it is sealed under the pupil's own key.
    assert all(
        b"\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbe\xd0\xb2" not in record.value for record in published
    )
    async with gradebook.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT string_agg(data::text, ' ') FROM events")
    assert "Иванов" not in stored
    assert "Петрова" in stored  # teachers are adults on staff: their names are public in the diary


async def test_re_sent_and_stale_records_change_nothing(gradebook: Any, school: TinySchool) -> None:
    before = await stream_events(gradebook)
    # The registry re-sends everything (new message ids), and an older revision of the school.
    await publish(gradebook.bootstrap, school.records(revision=1), topic_prefix=gradebook.topic_prefix)
    renamed = SchoolRecord(**{**school.records()[0].model_dump(), "revision": 3, "short_name": "Лицей № 77"})
    stale = SchoolRecord(**{**school.records()[0].model_dump(), "revision": 2, "short_name": "Школа № 1"})
    await publish(gradebook.bootstrap, [renamed, stale], topic_prefix=gradebook.topic_prefix)

    async def renamed_only() -> bool:
        return len(await stream_events(gradebook)) == len(before) + 1

    await eventually(renamed_only, timeout=20)
    after = await stream_events(gradebook)
    assert after[len(before) :] == [(f"school-{school.school_id}", "SchoolChanged")]

    async def read_model_name() -> str:
        async with gradebook.pool.acquire() as conn:
            name: str = await conn.fetchval(
                "SELECT short_name FROM roster_schools WHERE school_id = $1", school.school_id
            )
        return name

    # The read model follows the event through Kafka a moment after the event store has it.
    await eventually(lambda: _is(read_model_name, "Лицей № 77"), timeout=20)
    assert await read_model_name() == "Лицей № 77"


async def test_a_transfer_and_a_move_to_another_school_keep_history(
    gradebook: Any, school: TinySchool
) -> None:
    starts, _ = school.year
    moved_on = starts + timedelta(days=30)
    transfer = EnrolmentRecord(
        school_id=school.school_id,
        revision=2,
        education_id=school.educations[0],
        pupil_id=school.pupils[0],
        class_id=school.class_b,
        enrolled_on=starts,
        class_since=moved_on,
    )
    other = TinySchool()
    left = EnrolmentRecord(
        school_id=school.school_id,
        revision=2,
        education_id=school.educations[1],
        pupil_id=school.pupils[1],
        class_id=school.class_a,
        enrolled_on=starts,
        left_on=moved_on,
        leaving_reason="transferred",
    )
    pupil_there = PupilRecord(
        **{
            **next(
                r for r in school.records() if getattr(r, "pupil_id", None) == school.pupils[1]
            ).model_dump(),
            "school_id": other.school_id,
        }
    )
    arrival = EnrolmentRecord(
        school_id=other.school_id,
        revision=1,
        education_id=other.educations[0],
        pupil_id=school.pupils[1],
        class_id=other.class_a,
        enrolled_on=moved_on,
    )
    other_records = [r for r in other.records() if not isinstance(r, EnrolmentRecord | PupilRecord)]
    await publish(
        gradebook.bootstrap,
        [transfer, left, *other_records, pupil_there, arrival],
        topic_prefix=gradebook.topic_prefix,
    )

    async def settled() -> bool:
        async with gradebook.pool.acquire() as conn:
            there = await roster.education_at(conn, other.educations[0], moved_on)
            here = await roster.education_at(conn, school.educations[1], moved_on)
        return there is not None and here is not None and not here.active

    await eventually(settled, timeout=30)
    async with gradebook.pool.acquire() as conn:
        before = await roster.education_at(conn, school.educations[0], moved_on - timedelta(days=1))
        after = await roster.education_at(conn, school.educations[0], moved_on)
        left_school = await roster.education_at(conn, school.educations[1], moved_on - timedelta(days=1))
    assert before is not None
    assert before.class_id == school.class_a
    assert after is not None
    assert after.class_id == school.class_b
    assert left_school is not None
    assert left_school.active  # history in the first school stays
    kinds = dict(await stream_events(gradebook, "education"))
    assert kinds[f"education-{school.educations[0]}"] == "PupilTransferred"
    assert kinds[f"education-{school.educations[1]}"] == "PupilLeftSchool"
    assert kinds[f"education-{other.educations[0]}"] == "PupilEnrolled"
    pupil_events = [
        kind for stream, kind in await stream_events(gradebook, "pupil") if str(school.pupils[1]) in stream
    ]
    assert pupil_events == ["PupilRegistered"]  # the same person, the same data: no new event

    # The profile the gateway lists a parent's children from: both schools, only one still active.
    async with gradebook.pool.acquire() as conn:
        profile = await q.pupil_profile(conn, school.pupils[1], moved_on)
    assert profile is not None
    assert profile.first_name is not None
    by_school = {e.school_id: e for e in profile.educations}
    assert by_school[other.school_id].is_active
    assert by_school[other.school_id].class_id == other.class_a
    assert not by_school[school.school_id].is_active
    assert by_school[school.school_id].left_on == moved_on
    assert by_school[school.school_id].class_id == school.class_a


async def test_bad_messages_go_to_the_dead_letter_topic_and_nothing_else_is_lost(
    gradebook: Any, school: TinySchool
) -> None:
    good_key, good_body, good_headers = registry_message(
        ClassRecord(
            school_id=school.school_id,
            revision=1,
            class_id=school.assignments[0],  # any fresh id
            school_year_id=school.school_year_id,
            grade=6,
            letter="В",
        )
    )
    orphan = EnrolmentRecord(
        school_id=school.school_id,
        revision=1,
        education_id=school.quarters[0],  # a fresh id for an enrolment
        pupil_id=school.pupils[0],
        class_id=school.district_id,  # no such class
        enrolled_on=date.today(),
    )
    o_key, o_body, o_headers = registry_message(orphan)
    no_headers = (good_key, b'{"school_id": "x"}', [])
    not_json = (good_key, b"{not json", good_headers)
    bad_grade = (good_key, orjson.dumps({**orjson.loads(good_body), "grade": 14}), good_headers)
    unknown_type = (
        good_key,
        good_body,
        [(n, b"diary.registry.Canteen.v1" if n == "ce_type" else v) for n, v in good_headers],
    )
    await publish(
        gradebook.bootstrap,
        [],
        topic_prefix=gradebook.topic_prefix,
        raw=[
            no_headers,
            not_json,
            bad_grade,
            (o_key, o_body, o_headers),
            unknown_type,
            (good_key, good_body, good_headers),
        ],
    )
    dead = await read_topic(
        gradebook.bootstrap, gradebook.topic_prefix + "gradebook.registry-import.dlq", expected=5, timeout=30
    )
    reasons = [dict(record.headers)["dlq_reason"].decode() for record in dead]
    assert len(reasons) == 5
    assert "missing CloudEvents headers" in reasons[0]
    assert "not JSON" in reasons[1]
    assert "grade" in reasons[2]
    assert "unknown or closed class" in reasons[3]
    assert "is not a registry record" in reasons[4]

    async def good_one_imported() -> bool:
        async with gradebook.pool.acquire() as conn:
            return await roster.class_info(conn, school.assignments[0]) is not None

    await eventually(good_one_imported, timeout=20)


async def test_erasing_a_pupil_leaves_only_ciphertext(gradebook: Any, school: TinySchool) -> None:
    async with gradebook.pool.acquire() as conn:
        sealed = await conn.fetchval(
            "SELECT data FROM events WHERE stream_id = $1 ORDER BY version LIMIT 1",
            f"pupil-{school.pupils[0]}",
        )
        keys = PersonalDataKeys()
        blob = SealedPersonalData.model_validate(as_json(sealed)["personal_data"])
        assert (await keys.open(conn, blob, str(school.pupils[0])))["surname"] == "Иванов"
        assert (
            await conn.fetchval("SELECT surname FROM roster_pupils WHERE pupil_id = $1", school.pupils[0])
        ) == ("Иванов")
    assert await erase_pupil(gradebook.pool, school.pupils[0])
    async with gradebook.pool.acquire() as conn:
        with pytest.raises(LookupError):
            await keys.open(conn, blob, str(school.pupils[0]))
        assert (
            await conn.fetchval("SELECT surname FROM roster_pupils WHERE pupil_id = $1", school.pupils[0])
            is None
        )
    # The registry sending the person again does not bring the data back.
    pupil = next(r for r in school.records(revision=5) if getattr(r, "pupil_id", None) == school.pupils[0])
    await publish(gradebook.bootstrap, [pupil], topic_prefix=gradebook.topic_prefix)
    async with gradebook.pool.acquire() as conn:
        await eventually(lambda: _revision_seen(gradebook, school.pupils[0], 5), timeout=20)
        events = await conn.fetchval(
            "SELECT count(*) FROM events WHERE stream_id = $1", f"pupil-{school.pupils[0]}"
        )
    assert events == 1


async def _revision_seen(gradebook: Any, record_id: Any, revision: int) -> bool:
    async with gradebook.pool.acquire() as conn:
        seen = await conn.fetchval(
            "SELECT max(revision) FROM import_revisions WHERE record_id = $1", record_id
        )
    return bool(seen == revision)


async def test_exam_results_reach_the_pupils_diary(gradebook: Any, school: TinySchool) -> None:
    result = ExamResultRecord(
        result_id=school.assignments[1],
        revision=1,
        pupil_id=school.pupils[0],
        school_id=school.school_id,
        exam="ОГЭ",
        subject_name="Математика",
        exam_date=date.today() - timedelta(days=1),
        primary_score=20,
        max_primary_score=31,
        mark=4,
    )
    appealed = ExamResultRecord(
        **{**result.model_dump(), "revision": 2, "primary_score": 22, "mark": 5, "status": "revised"}
    )
    await publish(
        gradebook.bootstrap,
        [result, appealed, result],
        topic=EXAM_RESULTS_TOPIC,
        topic_prefix=gradebook.topic_prefix,
    )

    async def published() -> list[tuple[str, str]]:
        events = await stream_events(gradebook, "exam-result")
        return events if len(events) == 2 else []

    events = await eventually(published, timeout=20)
    assert [kind for _, kind in events] == ["ExamResultPublished", "ExamResultPublished"]
    async with gradebook.pool.acquire() as conn:
        rows = await conn.fetch("SELECT data FROM events WHERE stream_id = $1 ORDER BY version", events[0][0])
    last = as_json(rows[-1]["data"])
    assert last["education_id"] == str(school.educations[0])
    assert (last["mark"], last["status"]) == (5, "revised")


async def _is(probe: Any, expected: Any) -> bool:
    return bool(await probe() == expected)
