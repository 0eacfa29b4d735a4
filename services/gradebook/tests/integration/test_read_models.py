"""The diary read models against a real PostgreSQL: events applied through the projections, then
read back through the queries and the HTTP routes; and a rebuild from Kafka equals the live run."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from diary_events import gradebook as ev
from diary_events.base import DomainEvent
from diary_kernel.db import Pool, migrate, package_migrations
from diary_kernel.envelope import Envelope
from diary_kernel.personal_data import PersonalDataKeys, seal
from diary_kernel.problems import install_problem_handlers
from diary_kernel.projector import Projection, ProjectorRunner
from diary_kernel.testing import eventually
from diary_kernel.topics import TopicSpec, ensure_topics
from gradebook.adapters import diary_queries as q
from gradebook.adapters import roster_read_model as roster
from gradebook.adapters.diary_read_model import DiaryMarksProjection
from gradebook.adapters.journal_read_model import JournalProjection
from gradebook.adapters.roster_read_model import RosterProjection
from gradebook.entrypoints.errors import install_journal_errors
from gradebook.entrypoints.http_diary import router

pytestmark = pytest.mark.infra

MONDAY = date(2025, 10, 6)
TUESDAY, WEDNESDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
YEAR_START, YEAR_END = date(2025, 9, 1), date(2026, 5, 31)
_clock = itertools.count()


def projections() -> list[Projection]:
    return [RosterProjection(), JournalProjection(), DiaryMarksProjection()]


@pytest.fixture
async def pool(kernel_pool: Pool) -> Pool:
    await migrate(kernel_pool, package_migrations("gradebook"))
    return kernel_pool


def envelope(event: DomainEvent) -> Envelope:
    """Event times grow with each envelope, as they would from one writer."""
    at = datetime(2025, 10, 1, tzinfo=UTC) + timedelta(seconds=next(_clock))
    return Envelope.wrap(event, source="/test", time=at)


async def apply(pool: Pool, *events: DomainEvent | Envelope) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            env = event if isinstance(event, Envelope) else envelope(event)
            for projection in projections():
                await projection.apply(conn, env)


def _id() -> UUID:
    return uuid4()


@dataclass
class School:
    """A small school: one year, two quarters, two classes, three subjects, three teachers."""

    school_id: UUID = field(default_factory=_id)
    year_id: UUID = field(default_factory=_id)
    q1: UUID = field(default_factory=_id)
    q2: UUID = field(default_factory=_id)
    class_a: UUID = field(default_factory=_id)
    class_b: UUID = field(default_factory=_id)
    maths: UUID = field(default_factory=_id)
    russian: UUID = field(default_factory=_id)
    history: UUID = field(default_factory=_id)
    maths_teacher: UUID = field(default_factory=_id)
    russian_teacher: UUID = field(default_factory=_id)
    history_teacher: UUID = field(default_factory=_id)
    assignment: dict[tuple[UUID, UUID], UUID] = field(default_factory=dict)

    def roster(self) -> list[DomainEvent]:
        events: list[DomainEvent] = [
            ev.SchoolRegistered(
                school_id=self.school_id,
                district_id=_id(),
                district_name="Петроградский район",
                name="ГБОУ СОШ № 77",
                short_name="Школа № 77",
            ),
            ev.SchoolYearOpened(
                school_year_id=self.year_id,
                school_id=self.school_id,
                name="2025/2026",
                starts_on=YEAR_START,
                ends_on=YEAR_END,
                periods=[
                    ev.Period(
                        period_id=self.q1,
                        kind="quarter",
                        number=1,
                        name="1 четверть",
                        starts_on=YEAR_START,
                        ends_on=date(2025, 10, 26),
                    ),
                    ev.Period(
                        period_id=self.q2,
                        kind="quarter",
                        number=2,
                        name="2 четверть",
                        starts_on=date(2025, 11, 5),
                        ends_on=date(2025, 12, 28),
                    ),
                ],
            ),
        ]
        for subject, name in (
            (self.maths, "Математика"),
            (self.russian, "Русский язык"),
            (self.history, "История"),
        ):
            events.append(ev.SubjectRegistered(subject_id=subject, school_id=self.school_id, name=name))
        for teacher, surname in (
            (self.maths_teacher, "Иванова"),
            (self.russian_teacher, "Петрова"),
            (self.history_teacher, "Сидоров"),
        ):
            events.append(
                ev.TeacherRegistered(
                    teacher_id=teacher,
                    school_id=self.school_id,
                    surname=surname,
                    first_name="Мария",
                    patronymic="Ивановна",
                    position="учитель",
                )
            )
        for class_id, letter, form_teacher in (
            (self.class_a, "А", self.maths_teacher),
            (self.class_b, "Б", None),
        ):
            events.append(
                ev.ClassOpened(
                    class_id=class_id,
                    school_id=self.school_id,
                    school_year_id=self.year_id,
                    grade=5,
                    letter=letter,
                    name=f"5{letter}",
                    form_teacher_id=form_teacher,
                )
            )
            for subject, teacher in ((self.maths, self.maths_teacher), (self.russian, self.russian_teacher)):
                self.assignment[(class_id, subject)] = assignment = _id()
                events.append(
                    ev.TeacherAssigned(
                        assignment_id=assignment,
                        teacher_id=teacher,
                        school_id=self.school_id,
                        class_id=class_id,
                        subject_id=subject,
                    )
                )
        return events

    def slot(
        self,
        class_id: UUID,
        weekday: int,
        number: int,
        subject: UUID,
        teacher: UUID,
        valid_from: date = YEAR_START,
    ) -> ev.TimetableSlotSet:
        starts = time(8 + number, 0)
        return ev.TimetableSlotSet(
            class_id=class_id,
            school_id=self.school_id,
            weekday=weekday,
            lesson_number=number,
            valid_from=valid_from,
            subject_id=subject,
            teacher_id=teacher,
            room=f"{100 + number}",
            starts_at=starts,
            ends_at=time(8 + number, 45),
        )

    def lesson(self, class_id: UUID, day: date, number: int, subject: UUID) -> dict[str, Any]:
        return {
            "lesson_id": _id(),
            "class_id": class_id,
            "school_id": self.school_id,
            "subject_id": subject,
            "lesson_date": day,
            "lesson_number": number,
        }

    def enrol(self, class_id: UUID, on: date = YEAR_START) -> tuple[UUID, UUID, list[DomainEvent]]:
        pupil, education = _id(), _id()
        return (
            pupil,
            education,
            [
                ev.PupilEnrolled(
                    education_id=education,
                    pupil_id=pupil,
                    school_id=self.school_id,
                    class_id=class_id,
                    enrolled_on=on,
                )
            ],
        )

    def mark(
        self, education: UUID, subject: UUID, value: str, weight: int, day: date = MONDAY, **extra: Any
    ) -> ev.MarkRecorded:
        return ev.MarkRecorded(
            mark_id=extra.pop("mark_id", _id()),
            education_id=education,
            subject_id=subject,
            teacher_id=self.maths_teacher,
            lesson_date=day,
            value=value,
            work_type="контрольная работа" if weight > 1 else "ответ на уроке",
            weight=weight,
            recorded_at=datetime(2025, 10, 6, 12, tzinfo=UTC),
            **extra,
        )


async def registered_pupil(pool: Pool, pupil_id: UUID, surname: str) -> ev.PupilRegistered:
    async with pool.acquire() as conn:
        key_id, key = await PersonalDataKeys().key_for(conn, str(pupil_id))
    sealed = seal(
        {"surname": surname, "first_name": "Анна", "patronymic": "Сергеевна", "birth_date": "2014-03-02"},
        key_id=key_id,
        key=key,
        subject_id=str(pupil_id),
    )
    return ev.PupilRegistered(pupil_id=pupil_id, personal_data=sealed)


# --- Diary week ----------------------------------------------------------------------------------


async def test_the_diary_week_applies_substitutions_and_cancellations(pool: Pool) -> None:
    s = School()
    _, education, enrolment = s.enrol(s.class_a)
    mon1 = s.lesson(s.class_a, MONDAY, 1, s.maths)
    homework_id, removed_homework = _id(), _id()
    await apply(
        pool,
        *s.roster(),
        *enrolment,
        s.slot(s.class_a, 1, 1, s.maths, s.maths_teacher),
        s.slot(s.class_a, 1, 2, s.russian, s.russian_teacher),
        s.slot(s.class_a, 2, 1, s.maths, s.maths_teacher),
        s.slot(s.class_a, 2, 3, s.russian, s.russian_teacher),
        # From Tuesday of this week the third lesson on Tuesdays is gone.
        ev.TimetableSlotCleared(
            class_id=s.class_a, school_id=s.school_id, weekday=2, lesson_number=3, valid_from=TUESDAY
        ),
        ev.LessonSubstituted(
            class_id=s.class_a,
            school_id=s.school_id,
            lesson_date=MONDAY,
            lesson_number=2,
            subject_id=s.history,
            teacher_id=s.history_teacher,
            room="301",
            reason="болезнь учителя",
        ),
        ev.LessonCancelled(
            class_id=s.class_a,
            school_id=s.school_id,
            lesson_date=TUESDAY,
            lesson_number=1,
            reason="экскурсия",
        ),
        # A change taken back is as if it never happened.
        ev.LessonCancelled(
            class_id=s.class_a, school_id=s.school_id, lesson_date=MONDAY, lesson_number=1, reason="ошибка"
        ),
        ev.TimetableChangeReverted(
            class_id=s.class_a, school_id=s.school_id, lesson_date=MONDAY, lesson_number=1
        ),
        ev.LessonTopicSet(
            **mon1, teacher_id=s.maths_teacher, lesson_topic="Дроби", description="Сложение дробей"
        ),
        ev.HomeworkAssigned(
            **mon1,
            homework_id=homework_id,
            teacher_id=s.maths_teacher,
            due_on=WEDNESDAY,
            kind="written",
            text="№ 12, 13",
            attachments=[ev.Attachment(title="Учебник", url="https://example.org/book.pdf")],
        ),
        ev.HomeworkAssigned(
            **mon1,
            homework_id=removed_homework,
            teacher_id=s.maths_teacher,
            due_on=TUESDAY,
            kind="oral",
            text="выучить правило",
        ),
        ev.HomeworkRemoved(**mon1, homework_id=removed_homework, teacher_id=s.maths_teacher, reason="ошибка"),
        ev.AttendanceMarked(**mon1, education_id=education, teacher_id=s.maths_teacher, status="absent"),
        # The later marking replaces the earlier one.
        ev.AttendanceMarked(
            **mon1, education_id=education, teacher_id=s.maths_teacher, status="late", minutes_late=5
        ),
        ev.RemarkMade(
            **mon1,
            remark_id=_id(),
            education_id=education,
            teacher_id=s.maths_teacher,
            text="Забыл тетрадь",
            made_at=datetime(2025, 10, 6, 9, tzinfo=UTC),
        ),
        s.mark(education, s.maths, "5", 3, lesson_id=mon1["lesson_id"], lesson_number=1, class_id=s.class_a),
        s.mark(education, s.history, "4", 1),  # no lesson named: goes to the day's history lesson
        s.mark(education, s.russian, "3", 1),  # russian was substituted away: shown apart
    )
    async with pool.acquire() as conn:
        week = await q.diary_week(conn, education, WEDNESDAY)
    assert week is not None
    assert (week.week_start, week.week_end, week.class_id) == (MONDAY, MONDAY + timedelta(days=6), s.class_a)
    monday, tuesday, wednesday = week.days[:3]

    first, second = monday.lessons
    assert (first.status, first.subject_name, first.teacher_name) == (
        "scheduled",
        "Математика",
        "Иванова Мария Ивановна",
    )
    assert (first.starts_at, first.room, first.lesson_id) == (time(9, 0), "101", mon1["lesson_id"])
    assert (first.lesson_topic, first.description) == ("Дроби", "Сложение дробей")
    assert [h.homework_id for h in first.homework] == [homework_id]
    assert first.homework[0].attachments == [q.Attachment("Учебник", "https://example.org/book.pdf")]
    assert [m.value for m in first.marks] == ["5"]
    assert first.attendance == q.Attendance("late", None, 5)
    assert [r.text for r in first.remarks] == ["Забыл тетрадь"]

    assert (second.status, second.subject_id, second.teacher_id) == (
        "substituted",
        s.history,
        s.history_teacher,
    )
    assert (second.subject_name, second.room, second.change_reason) == ("История", "301", "болезнь учителя")
    assert second.starts_at == time(10, 0)  # the slot's times stay
    assert [m.value for m in second.marks] == ["4"]
    assert [m.value for m in monday.other_marks] == ["3"]

    assert [(lesson.lesson_number, lesson.status, lesson.change_reason) for lesson in tuesday.lessons] == [
        (1, "cancelled", "экскурсия")
    ]
    assert tuesday.homework_due == []  # the removed homework is gone
    assert [h.text for h in wednesday.homework_due] == ["№ 12, 13"]
    assert all(day.lessons == [] for day in week.days[2:])

    async with pool.acquire() as conn:
        timetable = await q.class_week(conn, s.class_a, MONDAY)
        assert await q.diary_week(conn, _id(), MONDAY) is None
    assert timetable is not None
    assert [len(day.lessons) for day in timetable.days] == [2, 1, 0, 0, 0, 0, 0]
    assert timetable.days[0].lessons[0].marks == []


async def test_a_transfer_keeps_both_classes_in_the_history(pool: Pool) -> None:
    s = School()
    _, education, enrolment = s.enrol(s.class_a, on=date(2025, 9, 1))
    transfer = ev.PupilTransferred(
        education_id=education,
        pupil_id=_id(),
        school_id=s.school_id,
        from_class_id=s.class_a,
        to_class_id=s.class_b,
        transferred_on=WEDNESDAY,
    )
    await apply(
        pool,
        *s.roster(),
        *enrolment,
        transfer,
        transfer,  # a redelivery changes nothing
        *(s.slot(s.class_a, day, 1, s.maths, s.maths_teacher) for day in range(1, 6)),
        *(s.slot(s.class_b, day, 2, s.russian, s.russian_teacher) for day in range(1, 6)),
    )
    async with pool.acquire() as conn:
        before = await roster.education_at(conn, education, TUESDAY)
        after = await roster.education_at(conn, education, WEDNESDAY)
        assert before is not None
        assert after is not None
        assert (before.class_id, after.class_id, before.active) == (s.class_a, s.class_b, True)
        assert await roster.class_education_ids(conn, s.class_a, TUESDAY) == [education]
        assert await roster.class_education_ids(conn, s.class_a, WEDNESDAY) == []
        assert await roster.class_education_ids(conn, s.class_b, WEDNESDAY) == [education]
        week = await q.diary_week(conn, education, MONDAY)
        assert week is not None
        assert [day.class_id for day in week.days[:5]] == [s.class_a] * 2 + [s.class_b] * 3
        assert [[lesson.subject_id for lesson in day.lessons] for day in week.days[:5]] == [
            [s.maths],
            [s.maths],
            [s.russian],
            [s.russian],
            [s.russian],
        ]
        teachers = await q.pupil_teachers(conn, education, WEDNESDAY)
        assert teachers is not None
        assert teachers.class_name == "5Б"
        assert teachers.form_teacher is None

    await apply(
        pool,
        ev.PupilLeftSchool(
            education_id=education,
            pupil_id=_id(),
            school_id=s.school_id,
            class_id=s.class_b,
            left_on=date(2025, 12, 1),
            reason="transferred",
        ),
    )
    async with pool.acquire() as conn:
        left = await roster.education_at(conn, education, date(2025, 12, 2))
        assert left is not None
        assert (left.class_id, left.active) == (s.class_b, False)
        assert await roster.class_education_ids(conn, s.class_b, date(2025, 12, 2)) == []
        stints = await conn.fetch(
            """SELECT class_id, from_on, to_on FROM roster_education_classes
               WHERE education_id = $1 ORDER BY from_on""",
            education,
        )
    assert [tuple(r) for r in stints] == [
        (s.class_a, date(2025, 9, 1), WEDNESDAY),
        (s.class_b, WEDNESDAY, date(2025, 12, 1)),
    ]


# --- Marks, averages, rating ---------------------------------------------------------------------


async def test_weighted_averages_corrections_and_removals(pool: Pool) -> None:
    s = School()
    _, education, enrolment = s.enrol(s.class_a)
    five, three = s.mark(education, s.maths, "5", 3), s.mark(education, s.maths, "3", 1, day=TUESDAY)
    recorded = [
        envelope(e)
        for e in (five, three, s.mark(education, s.maths, "зачёт", 1), s.mark(education, s.russian, "н/а", 1))
    ]
    await apply(pool, *s.roster(), *enrolment, *recorded, *recorded)  # applied twice: no duplicates
    async with pool.acquire() as conn:
        marks = await q.pupil_marks(conn, education, MONDAY, WEDNESDAY)
        assert len(marks.marks) == 4
        assert {a.subject_id: (a.weighted_average, a.marks) for a in marks.averages} == {
            s.maths: (Decimal("4.50"), 3),
            s.russian: (None, 1),
        }
        assert {n.subject_id: n.name for n in marks.subjects}[s.maths] == "Математика"
        assert await q.weighted_average(conn, education, s.maths, MONDAY, WEDNESDAY) == Decimal("4.50")
        assert await q.weighted_average(conn, education, s.maths, WEDNESDAY, WEDNESDAY) is None

    removal = ev.MarkRemoved(
        mark_id=five.mark_id,
        education_id=education,
        reason="ошибочно выставлена",
        removed_by=s.maths_teacher,
        removed_at=datetime(2025, 10, 7, tzinfo=UTC),
    )
    correction = ev.MarkCorrected(
        mark_id=three.mark_id,
        education_id=education,
        value="4",
        reason="пересдача",
        corrected_at=datetime(2025, 10, 7, tzinfo=UTC),
        corrected_by=s.maths_teacher,
    )
    removal_env = envelope(removal)
    await apply(pool, removal_env, correction, removal_env)
    async with pool.acquire() as conn:
        assert await q.weighted_average(conn, education, s.maths, MONDAY, WEDNESDAY) == Decimal("4.00")
        marks = await q.pupil_marks(conn, education, subject_id=s.maths)
        assert [(m.value, m.version) for m in marks.marks] == [("зачёт", 1), ("4", 2)]
        week = await q.diary_week(conn, education, MONDAY)
        assert week is not None
        assert all(m.mark_id != five.mark_id for day in week.days for m in day.other_marks)
        kept = await conn.fetchrow(
            "SELECT removal_reason, removed_by FROM diary_marks WHERE mark_id = $1", five.mark_id
        )
        assert kept is not None
        assert tuple(kept) == ("ошибочно выставлена", s.maths_teacher)


async def test_class_rating_shares_positions_on_ties_and_names_nobody(pool: Pool) -> None:
    s = School()
    pupils = [s.enrol(s.class_a) for _ in range(5)]
    best, tied_one, tied_two, last, unmarked = (education for _, education, _ in pupils)
    await apply(
        pool,
        *s.roster(),
        *(e for _, _, events in pupils for e in events),
        s.mark(best, s.maths, "5", 2),
        s.mark(tied_one, s.maths, "5", 1),
        s.mark(tied_one, s.maths, "4", 1),
        s.mark(tied_two, s.maths, "4", 3),
        s.mark(tied_two, s.maths, "5", 3),
        s.mark(last, s.maths, "3", 1),
        s.mark(last, s.russian, "5", 1),
        s.mark(unmarked, s.maths, "зачёт", 1),
    )
    async with pool.acquire() as conn:
        ratings = {
            education: await q.class_rating(conn, education, YEAR_START, WEDNESDAY)
            for education in (best, tied_one, tied_two, last, unmarked)
        }
    maths = {e: next(r for r in rating.subjects if r.subject_id == s.maths) for e, rating in ratings.items()}
    assert [(maths[e].position, maths[e].ranked) for e in (best, tied_one, tied_two, last, unmarked)] == [
        (1, 4),
        (2, 4),
        (2, 4),
        (4, 4),
        (None, 4),
    ]
    assert maths[tied_one].weighted_average == Decimal("4.50")
    russian = next(r for r in ratings[best].subjects if r.subject_id == s.russian)
    assert (russian.position, russian.ranked, russian.weighted_average) == (None, 1, None)
    shown = repr(ratings[tied_one])
    assert all(str(other) not in shown for other in (best, tied_two, last, unmarked))


# --- Final marks, exams, attendance, report, roster ---------------------------------------------


async def test_final_marks_attendance_exams_and_the_class_report(pool: Pool) -> None:
    s = School()
    pupil, education, enrolment = s.enrol(s.class_a)
    other_pupil, other, other_enrolment = s.enrol(s.class_a)
    mon1 = s.lesson(s.class_a, MONDAY, 1, s.maths)
    tue1 = s.lesson(s.class_a, TUESDAY, 1, s.russian)
    wed1 = s.lesson(s.class_a, WEDNESDAY, 1, s.maths)

    def final(value: str, hour: int) -> ev.FinalMarkSet:
        return ev.FinalMarkSet(
            education_id=education,
            subject_id=s.maths,
            period_id=s.q1,
            school_year_id=s.year_id,
            school_id=s.school_id,
            class_id=s.class_a,
            value=value,
            teacher_id=s.maths_teacher,
            suggested_average="4.50",
            set_at=datetime(2025, 10, 27, hour, tzinfo=UTC),
        )

    def exam(status: str, score: int) -> ev.ExamResultPublished:
        return ev.ExamResultPublished(
            result_id=result_id,
            pupil_id=pupil,
            education_id=education,
            school_id=s.school_id,
            exam="ОГЭ",
            subject_name="Математика",
            exam_date=date(2026, 5, 20),
            primary_score=score,
            max_primary_score=31,
            mark=4,
            status=status,
        )

    result_id = _id()
    await apply(
        pool,
        *s.roster(),
        *enrolment,
        *other_enrolment,
        await registered_pupil(pool, pupil, "Смирнова"),
        await registered_pupil(pool, other_pupil, "Волкова"),
        final("5", 12),
        final("4", 10),  # set earlier, arrives later: the later-set mark stays
        exam("published", 20),
        exam("revised", 22),
        ev.AttendanceMarked(
            **mon1,
            education_id=education,
            teacher_id=s.maths_teacher,
            status="absent",
            absence_reason="illness",
        ),
        ev.AttendanceMarked(**wed1, education_id=education, teacher_id=s.maths_teacher, status="absent"),
        ev.AttendanceMarked(
            **tue1, education_id=education, teacher_id=s.russian_teacher, status="late", minutes_late=10
        ),
        ev.AttendanceMarked(**tue1, education_id=other, teacher_id=s.russian_teacher, status="present"),
        s.mark(education, s.maths, "4", 1),
        s.mark(other, s.maths, "2", 1),
    )
    async with pool.acquire() as conn:
        finals = await q.final_marks(conn, education)
        summary = await q.attendance_summary(conn, education, YEAR_START, date(2025, 10, 26))
        exams = await q.exam_results(conn, education)
        report = await q.class_report(conn, s.class_a, YEAR_START, date(2025, 10, 26))
        pupils = await q.class_pupils(conn, s.class_a, MONDAY)

    (year,) = finals.years
    assert (year.name, [p.name for p in year.periods]) == ("2025/2026", ["1 четверть", "2 четверть"])
    assert {f.subject_name: [(m.period_id, m.value) for m in f.marks] for f in year.subjects} == {
        "Математика": [(s.q1, "5")],
        "Русский язык": [],
    }
    by_subject = {a.subject_id: a.absences for a in summary.subjects}
    assert by_subject[s.maths] == q.Absences(missed=2, unexcused=1, illness=1)
    assert by_subject[s.russian] == q.Absences(late=1, minutes_late=10)
    assert summary.total == q.Absences(missed=2, unexcused=1, illness=1, late=1, minutes_late=10)
    assert [(e.status, e.primary_score) for e in exams] == [("revised", 22)]

    assert report is not None
    assert [p.surname for p in report.pupils] == ["Волкова", "Смирнова"]
    mine = {c.subject_id: c for c in report.pupils[1].subjects}
    assert (mine[s.maths].weighted_average, mine[s.maths].marks, mine[s.maths].absences.missed) == (
        Decimal("4.00"),
        1,
        2,
    )
    assert mine[s.russian].absences.late == 1
    assert {p.surname for p in pupils} == {"Смирнова", "Волкова"}


async def test_an_erased_pupil_has_no_name(pool: Pool) -> None:
    s = School()
    pupil, education, enrolment = s.enrol(s.class_a)
    registered = await registered_pupil(pool, pupil, "Смирнова")
    await apply(pool, *s.roster(), *enrolment, registered)
    async with pool.acquire() as conn:
        assert (await q.class_pupils(conn, s.class_a, MONDAY))[0].surname == "Смирнова"
        await PersonalDataKeys().erase(conn, str(pupil))
        await roster.forget_pupil(conn, pupil)
        (shown,) = await q.class_pupils(conn, s.class_a, MONDAY)
        assert (shown.education_id, shown.surname, shown.first_name, shown.patronymic) == (
            education,
            None,
            None,
            None,
        )
    # Replayed after the key is gone (a rebuild), the sealed name no longer opens.
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE roster_pupils")
    await apply(pool, registered)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT surname, birth_date, erased FROM roster_pupils WHERE pupil_id = $1", pupil
        )
    assert row is not None
    assert tuple(row) == (None, None, True)


async def test_authorisation_lookups(pool: Pool) -> None:
    s = School()
    _, _, enrolment = s.enrol(s.class_a)
    await apply(pool, *s.roster(), *enrolment)
    async with pool.acquire() as conn:
        assert await roster.is_assigned(conn, s.maths_teacher, s.class_a, s.maths)
        assert not await roster.is_assigned(conn, s.maths_teacher, s.class_a, s.russian)
        info = await roster.class_info(conn, s.class_a)
        assert info is not None
        assert (info.name, info.form_teacher_id, info.closed) == ("5А", s.maths_teacher, False)
        period = await roster.period_info(conn, s.q1)
        assert period is not None
        assert (period.kind, period.number, period.school_id) == ("quarter", 1, s.school_id)
        subject = await roster.subject_info(conn, s.maths)
        assert subject is not None
        assert subject.name == "Математика"
        assert await roster.education_at(conn, _id(), MONDAY) is None
    await apply(
        pool,
        ev.TeacherUnassigned(
            assignment_id=s.assignment[(s.class_a, s.russian)],
            teacher_id=s.russian_teacher,
            school_id=s.school_id,
            class_id=s.class_a,
            subject_id=s.russian,
        ),
        ev.TeacherDismissed(teacher_id=s.maths_teacher, school_id=s.school_id),
        ev.ClassClosed(class_id=s.class_b, school_id=s.school_id),
    )
    async with pool.acquire() as conn:
        assert not await roster.is_assigned(conn, s.russian_teacher, s.class_a, s.russian)
        assert not await roster.is_assigned(conn, s.maths_teacher, s.class_a, s.maths)
        teacher = await roster.teacher_info(conn, s.maths_teacher)
        assert teacher is not None
        assert (teacher.dismissed, teacher.surname) == (True, "Иванова")
        closed = await roster.class_info(conn, s.class_b)
        assert closed is not None
        assert closed.closed


# --- HTTP ---------------------------------------------------------------------------------------


@pytest.fixture
async def client(pool: Pool) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.runtime = SimpleNamespace(pool=pool)
    install_problem_handlers(app)
    install_journal_errors(app)
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gradebook") as http:
        yield http


async def test_http_queries_etags_and_report_authorisation(pool: Pool, client: httpx.AsyncClient) -> None:
    s = School()
    _, education, enrolment = s.enrol(s.class_a)
    await apply(
        pool,
        *s.roster(),
        *enrolment,
        s.slot(s.class_a, 1, 1, s.maths, s.maths_teacher),
        s.mark(education, s.maths, "5", 2),
    )

    week = await client.get(f"/diary/{education}/week", params={"date": WEDNESDAY.isoformat()})
    assert week.status_code == 200, week.text
    assert week.json()["days"][0]["lessons"][0]["marks"][0]["value"] == "5"
    etag = week.headers["etag"]
    again = await client.get(
        f"/diary/{education}/week", params={"date": WEDNESDAY.isoformat()}, headers={"If-None-Match": etag}
    )
    assert (again.status_code, again.content) == (304, b"")
    await apply(pool, s.mark(education, s.maths, "4", 1))
    changed = await client.get(
        f"/diary/{education}/week", params={"date": WEDNESDAY.isoformat()}, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag

    marks = (await client.get(f"/diary/{education}/marks", params={"period_id": str(s.q1)})).json()
    assert marks["averages"] == [{"subject_id": str(s.maths), "weighted_average": "4.67", "marks": 2}]
    rating = await client.get(f"/diary/{education}/rating", params={"period_id": str(s.q1)})
    assert rating.json()["subjects"][0]["position"] == 1
    assert (await client.get(f"/diary/{education}/attendance")).json()["errors"][0]["field"] == "from"
    both = await client.get(
        f"/diary/{education}/rating", params={"period_id": str(s.q1), "from": "2025-09-01"}
    )
    assert both.status_code == 422
    for path in ("week", "marks", "final-marks", "teachers", "exams"):
        missing = await client.get(f"/diary/{uuid4()}/{path}")
        assert missing.status_code == 404, path
        assert missing.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"/diary/{education}/final-marks")).status_code == 200
    assert (await client.get(f"/diary/{education}/teachers")).json()["class_name"] == "5А"
    assert (await client.get("/schools")).status_code == 200
    assert len((await client.get(f"/schools/{s.school_id}/classes")).json()) == 2
    assert (
        await client.get(f"/classes/{s.class_a}/timetable", params={"date": MONDAY.isoformat()})
    ).status_code == 200

    report = f"/classes/{s.class_a}/report"
    params = {"period_id": str(s.q1)}

    def actor(role: str, actor_id: UUID, school: UUID | None = None) -> dict[str, str]:
        headers = {"X-Actor-Role": role, "X-Actor-Id": str(actor_id)}
        return headers | ({"X-Actor-School": str(school)} if school else {})

    assert (await client.get(report, params=params)).status_code == 401
    allowed = [
        actor("operator", _id()),
        actor("school_staff", _id(), s.school_id),
        actor("teacher", s.maths_teacher, s.school_id),  # form teacher
        actor("teacher", s.russian_teacher, s.school_id),  # teaches the class
    ]
    for headers in allowed:
        response = await client.get(report, params=params, headers=headers)
        assert response.status_code == 200, (headers, response.text)
    assert (
        await client.get(report, params=params, headers=actor("teacher", s.history_teacher, s.school_id))
    ).status_code == 403
    assert (
        await client.get(report, params=params, headers=actor("school_staff", _id(), _id()))
    ).status_code == 404
    assert (
        await client.get(f"/classes/{_id()}/report", params=params, headers=allowed[0])
    ).status_code == 404
    assert (await client.get(f"/classes/{s.class_a}/pupils", headers=allowed[1])).status_code == 200


# --- Rebuild from Kafka --------------------------------------------------------------------------


async def _snapshot(pool: Pool, projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the projection's tables, in a stable order, without projection timestamps."""
    snapshot = {}
    async with pool.acquire() as conn:
        for table in projection.tables:
            rows = await conn.fetch(f"SELECT * FROM {table}")
            snapshot[table] = sorted(
                (tuple(str(v) for k, v in row.items() if k != "projected_at") for row in rows), key=repr
            )
    return snapshot


def _key(event: DomainEvent) -> bytes:
    """The aggregate id, as the write side keys its events."""
    for name in (
        "mark_id",
        "homework_id",
        "lesson_id",
        "assignment_id",
        "education_id",
        "pupil_id",
        "teacher_id",
        "class_id",
        "subject_id",
        "school_year_id",
        "result_id",
        "school_id",
    ):
        if hasattr(event, name):
            return str(getattr(event, name)).encode()
    raise AssertionError(event)


async def test_rebuilding_each_projection_from_kafka_equals_the_live_read_model(
    pool: Pool, kafka_bootstrap: str, topic_prefix: str
) -> None:
    s = School()
    pupil, education, enrolment = s.enrol(s.class_a)
    mon1 = s.lesson(s.class_a, MONDAY, 1, s.maths)
    five = s.mark(education, s.maths, "5", 3, lesson_number=1)
    events: Sequence[DomainEvent] = [
        *s.roster(),
        *enrolment,
        await registered_pupil(pool, pupil, "Смирнова"),
        ev.PupilTransferred(
            education_id=education,
            pupil_id=pupil,
            school_id=s.school_id,
            from_class_id=s.class_a,
            to_class_id=s.class_b,
            transferred_on=WEDNESDAY,
        ),
        s.slot(s.class_a, 1, 1, s.maths, s.maths_teacher),
        ev.LessonCancelled(
            class_id=s.class_a, school_id=s.school_id, lesson_date=MONDAY, lesson_number=1, reason="x"
        ),
        ev.LessonTopicSet(**mon1, teacher_id=s.maths_teacher, lesson_topic="Дроби"),
        ev.HomeworkAssigned(
            **mon1, homework_id=_id(), teacher_id=s.maths_teacher, due_on=TUESDAY, kind="written", text="№ 1"
        ),
        ev.AttendanceMarked(**mon1, education_id=education, teacher_id=s.maths_teacher, status="absent"),
        ev.AttendanceMarked(**mon1, education_id=education, teacher_id=s.maths_teacher, status="present"),
        five,
        s.mark(education, s.maths, "4", 1),
        ev.MarkRemoved(
            mark_id=five.mark_id,
            education_id=education,
            reason="ошибка",
            removed_by=s.maths_teacher,
            removed_at=datetime(2025, 10, 7, tzinfo=UTC),
        ),
    ]
    topic = topic_prefix + ev.GRADEBOOK_EVENTS_TOPIC
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, partitions=6)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            env = envelope(event)
            await producer.send_and_wait(
                topic, value=env.body(), key=_key(event), headers=env.kafka_headers()
            )
    finally:
        await producer.stop()

    for projection in projections():
        runner = ProjectorRunner(projection, pool, kafka_bootstrap, topic_prefix=topic_prefix)
        await ensure_topics(kafka_bootstrap, runner.topic_specs())
        stopping = asyncio.Event()
        task = asyncio.create_task(runner.run(stopping))

        async def caught_up(name: str = projection.name) -> bool:
            async with pool.acquire() as conn:
                done = await conn.fetchval(
                    "SELECT count(*) FROM processed_events WHERE projection = $1", name
                )
            return bool(done == len(events))

        try:
            await eventually(caught_up, timeout=30)
        finally:
            stopping.set()
            await task
        live = await _snapshot(pool, projection)
        assert any(live.values()), projection.name
        applied = await runner.rebuild()
        assert applied == len(events)
        assert await _snapshot(pool, projection) == live, projection.name

    async with pool.acquire() as conn:
        marks = await q.pupil_marks(conn, education)
        week = await q.diary_week(conn, education, MONDAY)
    assert [m.value for m in marks.marks] == ["4"]
    assert week is not None
    assert week.days[0].lessons[0].status == "cancelled"
    assert week.days[2].class_id == s.class_b
