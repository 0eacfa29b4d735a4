"""Queries a parent's diary and the school's staff read, answered from the read models only.

Each query is a handful of indexed statements: a diary week reads the pupil's class history,
then the week's timetable, changes, lessons, homework, marks, attendance and remarks by
(class, date) or (education, date) keys, and puts them together in Python.
Weighted averages count only the numeric marks (5..1); «зачёт», «незачёт» and «н/а» don't count.
Nothing here returns other pupils' names or marks to a pupil's diary: the class rating gives a
position and a count only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, TypeAlias
from uuid import UUID

import asyncpg

from diary_kernel.db import Connection
from gradebook.domain.lessons import lesson_id_for

NUMERIC_VALUES = ("5", "4", "3", "2", "1")
_CENT = Decimal("0.01")

# SQL fragments for a weighted average over diary_marks rows aliased `m`. CASE keeps the integer
# cast away from «зачёт» and friends whatever order the planner evaluates the filters in.
_NUMERIC = "m.value IN ('5', '4', '3', '2', '1')"
_WEIGHTED_SUM = f"sum(CASE WHEN {_NUMERIC} THEN m.value::int * m.weight END)"
_WEIGHTS = f"sum(CASE WHEN {_NUMERIC} THEN m.weight END)"

LessonStatus = Literal["scheduled", "substituted", "cancelled"]
Row: TypeAlias = "asyncpg.Record | Mapping[str, Any]"


# --- Pure helpers --------------------------------------------------------------------------------


def week_of(day: date) -> list[date]:
    """Monday to Sunday of the ISO week that contains `day`."""
    monday = day - timedelta(days=day.isoweekday() - 1)
    return [monday + timedelta(days=offset) for offset in range(7)]


def rounded_average(weighted_sum: Decimal | int | None, weights: Decimal | int | None) -> Decimal | None:
    """A weighted average as the diary shows it: two decimals, halves rounded up."""
    if not weights or weighted_sum is None:
        return None
    return (Decimal(weighted_sum) / Decimal(weights)).quantize(_CENT, rounding=ROUND_HALF_UP)


def competition_positions(averages: Mapping[UUID, Decimal]) -> dict[UUID, int]:
    """Positions by average, best first; equal averages share a place and the next is skipped."""
    ordered = sorted(averages.values(), reverse=True)
    first_place: dict[Decimal, int] = {}
    for index, value in enumerate(ordered):
        first_place.setdefault(value, index + 1)
    return {who: first_place[value] for who, value in averages.items()}


def full_name(surname: str | None, first_name: str | None, patronymic: str | None) -> str | None:
    parts = [part for part in (surname, first_name, patronymic) if part]
    return " ".join(parts) or None


# --- Results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    title: str
    url: str


@dataclass(frozen=True)
class Homework:
    homework_id: UUID
    subject_id: UUID
    subject_name: str | None
    kind: str
    text: str
    attachments: list[Attachment]
    set_on: date
    set_in_lesson: int
    due_on: date


@dataclass(frozen=True)
class Mark:
    mark_id: UUID
    subject_id: UUID
    subject_name: str | None
    teacher_id: UUID
    teacher_name: str | None
    lesson_date: date
    lesson_number: int | None
    value: str
    work_type: str
    weight: int
    comment: str | None
    version: int
    recorded_at: datetime
    corrected_at: datetime | None
    correction_reason: str | None


@dataclass(frozen=True)
class Attendance:
    status: str
    absence_reason: str | None
    minutes_late: int | None


@dataclass(frozen=True)
class Remark:
    remark_id: UUID
    teacher_id: UUID
    teacher_name: str | None
    text: str
    made_at: datetime


@dataclass(frozen=True)
class DiaryLesson:
    lesson_number: int
    lesson_id: UUID | None
    status: LessonStatus
    change_reason: str | None
    starts_at: time | None
    ends_at: time | None
    subject_id: UUID | None
    subject_name: str | None
    teacher_id: UUID | None
    teacher_name: str | None
    room: str | None
    lesson_topic: str | None
    description: str | None
    homework: list[Homework]
    marks: list[Mark]
    attendance: Attendance | None
    remarks: list[Remark]


@dataclass(frozen=True)
class DiaryDay:
    date: date
    weekday: int
    class_id: UUID | None
    lessons: list[DiaryLesson]
    homework_due: list[Homework]
    other_marks: list[Mark] = field(default_factory=list)
    """Marks of the day that no lesson of the timetable matches."""


@dataclass(frozen=True)
class DiaryWeek:
    education_id: UUID | None
    class_id: UUID | None
    week_start: date
    week_end: date
    days: list[DiaryDay]


@dataclass(frozen=True)
class SubjectAverage:
    subject_id: UUID
    weighted_average: Decimal | None
    marks: int


@dataclass(frozen=True)
class SubjectName:
    subject_id: UUID
    name: str | None


@dataclass(frozen=True)
class PupilMarks:
    education_id: UUID
    date_from: date | None
    date_to: date | None
    marks: list[Mark]
    averages: list[SubjectAverage]
    subjects: list[SubjectName]


@dataclass(frozen=True)
class Period:
    period_id: UUID
    kind: str
    number: int
    name: str
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class FinalMark:
    period_id: UUID
    value: str
    suggested_average: str | None
    set_at: datetime


@dataclass(frozen=True)
class SubjectFinalMarks:
    subject_id: UUID
    subject_name: str | None
    marks: list[FinalMark]


@dataclass(frozen=True)
class SchoolYearFinalMarks:
    school_year_id: UUID
    name: str | None
    starts_on: date | None
    ends_on: date | None
    periods: list[Period]
    subjects: list[SubjectFinalMarks]


@dataclass(frozen=True)
class FinalMarks:
    education_id: UUID
    years: list[SchoolYearFinalMarks]


@dataclass(frozen=True)
class Absences:
    missed: int = 0
    excused: int = 0
    unexcused: int = 0
    illness: int = 0
    late: int = 0
    minutes_late: int = 0


@dataclass(frozen=True)
class SubjectAttendance:
    subject_id: UUID
    subject_name: str | None
    absences: Absences


@dataclass(frozen=True)
class AttendanceSummary:
    education_id: UUID
    date_from: date
    date_to: date
    subjects: list[SubjectAttendance]
    total: Absences


@dataclass(frozen=True)
class TeacherRef:
    teacher_id: UUID
    name: str
    position: str


@dataclass(frozen=True)
class SubjectTeachers:
    subject_id: UUID
    subject_name: str | None
    teachers: list[TeacherRef]


@dataclass(frozen=True)
class PupilTeachers:
    education_id: UUID
    class_id: UUID | None
    class_name: str | None
    form_teacher: TeacherRef | None
    subjects: list[SubjectTeachers]


@dataclass(frozen=True)
class SubjectRating:
    subject_id: UUID
    subject_name: str | None
    weighted_average: Decimal | None
    position: int | None
    ranked: int
    """How many pupils of the class have an average in the subject."""


@dataclass(frozen=True)
class ClassRating:
    education_id: UUID
    class_id: UUID | None
    date_from: date
    date_to: date
    subjects: list[SubjectRating]


@dataclass(frozen=True)
class PupilSubjectReport:
    subject_id: UUID
    weighted_average: Decimal | None
    marks: int
    absences: Absences


@dataclass(frozen=True)
class PupilReport:
    education_id: UUID
    pupil_id: UUID
    surname: str | None
    first_name: str | None
    patronymic: str | None
    subjects: list[PupilSubjectReport]


@dataclass(frozen=True)
class ClassReport:
    class_id: UUID
    class_name: str
    date_from: date
    date_to: date
    subjects: list[SubjectName]
    pupils: list[PupilReport]


@dataclass(frozen=True)
class ExamResult:
    result_id: UUID
    exam: str
    subject_name: str
    exam_date: date
    primary_score: int
    max_primary_score: int
    test_score: int | None
    mark: int | None
    status: str


@dataclass(frozen=True)
class School:
    school_id: UUID
    district_id: UUID
    district_name: str
    name: str
    short_name: str
    address: str | None
    closed: bool


@dataclass(frozen=True)
class SchoolClass:
    class_id: UUID
    school_year_id: UUID
    grade: int
    letter: str
    name: str
    form_teacher_id: UUID | None
    closed: bool


@dataclass(frozen=True)
class ClassPupil:
    education_id: UUID
    pupil_id: UUID
    surname: str | None
    first_name: str | None
    patronymic: str | None
    in_class_since: date


@dataclass(frozen=True)
class PupilEducation:
    education_id: UUID
    school_id: UUID
    school_name: str | None
    class_id: UUID | None
    class_name: str | None
    enrolled_on: date
    left_on: date | None
    is_active: bool


@dataclass(frozen=True)
class PupilProfile:
    """Who a diary belongs to, for the people allowed to read it (the gateway decides who)."""

    pupil_id: UUID
    surname: str | None
    first_name: str | None
    patronymic: str | None
    educations: list[PupilEducation]


# --- Marks ---------------------------------------------------------------------------------------


async def weighted_average(
    conn: Connection, education_id: UUID, subject_id: UUID, date_from: date, date_to: date
) -> Decimal | None:
    """The pupil's weighted average in a subject over a date range: the suggested final mark."""
    row = await conn.fetchrow(
        f"""SELECT {_WEIGHTED_SUM} AS total, {_WEIGHTS} AS weights FROM diary_marks m
            WHERE m.education_id = $1 AND m.subject_id = $2 AND m.lesson_date BETWEEN $3 AND $4
              AND m.removed_at IS NULL""",
        education_id,
        subject_id,
        date_from,
        date_to,
    )
    assert row is not None
    return rounded_average(row["total"], row["weights"])


async def education_known(conn: Connection, education_id: UUID) -> bool:
    """In the roster, or at least in the marks (marks may arrive before the roster catches up)."""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM roster_educations WHERE education_id = $1)
                   OR EXISTS (SELECT 1 FROM diary_marks WHERE education_id = $1)""",
            education_id,
        )
    )


_MARK_SELECT = """SELECT m.mark_id, m.subject_id, m.teacher_id, m.lesson_id, m.lesson_date,
                         m.lesson_number, m.value, m.work_type, m.weight, m.comment, m.version,
                         m.recorded_at, m.corrected_at, m.correction_reason
                  FROM diary_marks m"""


async def pupil_marks(
    conn: Connection,
    education_id: UUID,
    date_from: date | None = None,
    date_to: date | None = None,
    subject_id: UUID | None = None,
) -> PupilMarks:
    """The pupil's marks in force with a weighted average per subject."""
    rows = await conn.fetch(
        f"""{_MARK_SELECT}
            WHERE m.education_id = $1 AND m.removed_at IS NULL
              AND ($2::date IS NULL OR m.lesson_date >= $2)
              AND ($3::date IS NULL OR m.lesson_date <= $3)
              AND ($4::uuid IS NULL OR m.subject_id = $4)
            ORDER BY m.lesson_date, m.lesson_number NULLS LAST, m.recorded_at""",
        education_id,
        date_from,
        date_to,
        subject_id,
    )
    names = await _Names.load(conn, rows)
    sums: dict[UUID, list[int]] = {}
    for row in rows:
        total = sums.setdefault(row["subject_id"], [0, 0, 0])
        if row["value"] in NUMERIC_VALUES:
            total[0] += int(row["value"]) * row["weight"]
            total[1] += row["weight"]
        total[2] += 1
    return PupilMarks(
        education_id=education_id,
        date_from=date_from,
        date_to=date_to,
        marks=[names.mark(row) for row in rows],
        averages=[
            SubjectAverage(subject, rounded_average(total, weights), count)
            for subject, (total, weights, count) in sums.items()
        ],
        subjects=[SubjectName(subject, names.subjects.get(subject)) for subject in sums],
    )


# --- Diary week ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stint:
    class_id: UUID
    from_on: date
    to_on: date | None


def class_on(
    day: date, stints: Sequence[_Stint], enrolled_on: date | None, left_on: date | None
) -> UUID | None:
    """The pupil's class on a day, None when not enrolled then."""
    if enrolled_on is None or day < enrolled_on or (left_on is not None and day >= left_on):
        return None
    for stint in stints:
        if stint.from_on <= day and (stint.to_on is None or day < stint.to_on):
            return stint.class_id
    return None


async def diary_week(conn: Connection, education_id: UUID, on: date) -> DiaryWeek | None:
    """The week containing `on` in a pupil's diary; None for an education nobody knows."""
    days = week_of(on)
    rows = await conn.fetch(
        """SELECT e.enrolled_on, e.left_on, c.class_id, c.from_on, c.to_on
           FROM roster_educations e LEFT JOIN roster_education_classes c USING (education_id)
           WHERE e.education_id = $1 ORDER BY c.from_on""",
        education_id,
    )
    if rows:
        stints = [_Stint(r["class_id"], r["from_on"], r["to_on"]) for r in rows if r["class_id"]]
        classes = [class_on(day, stints, rows[0]["enrolled_on"], rows[0]["left_on"]) for day in days]
    elif await education_known(conn, education_id):
        classes = [None] * 7
    else:
        return None
    marks = await conn.fetch(
        f"""{_MARK_SELECT}
            WHERE m.education_id = $1 AND m.lesson_date BETWEEN $2 AND $3 AND m.removed_at IS NULL
            ORDER BY m.lesson_date, m.recorded_at""",
        education_id,
        days[0],
        days[-1],
    )
    attendance = await conn.fetch(
        """SELECT lesson_id, lesson_date, lesson_number, status, absence_reason, minutes_late
           FROM journal_attendance WHERE education_id = $1 AND lesson_date BETWEEN $2 AND $3""",
        education_id,
        days[0],
        days[-1],
    )
    remarks = await conn.fetch(
        """SELECT remark_id, lesson_id, lesson_date, lesson_number, teacher_id, text, made_at
           FROM journal_remarks WHERE education_id = $1 AND lesson_date BETWEEN $2 AND $3
           ORDER BY made_at""",
        education_id,
        days[0],
        days[-1],
    )
    built = await _build_week(conn, days, classes, marks, attendance, remarks)
    current = classes[days.index(on)] or next((c for c in reversed(classes) if c), None)
    return DiaryWeek(education_id, current, days[0], days[-1], built)


async def class_week(conn: Connection, class_id: UUID, on: date) -> DiaryWeek | None:
    """The class's timetable for the week containing `on`, changes applied; None if unknown."""
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM roster_classes WHERE class_id = $1)", class_id):
        return None
    days = week_of(on)
    built = await _build_week(conn, days, [class_id] * 7, [], [], [])
    return DiaryWeek(None, class_id, days[0], days[-1], built)


async def _build_week(
    conn: Connection,
    days: Sequence[date],
    classes: Sequence[UUID | None],
    marks: Sequence[Row],
    attendance: Sequence[Row],
    remarks: Sequence[Row],
) -> list[DiaryDay]:
    pairs = [(day, class_id) for day, class_id in zip(days, classes, strict=True) if class_id]
    slots: Sequence[Row] = []
    changes: Sequence[Row] = []
    lessons: Sequence[Row] = []
    homework: Sequence[Row] = []
    if pairs:
        dates = [day for day, _ in pairs]
        class_ids = [class_id for _, class_id in pairs]
        weekdays = [day.isoweekday() for day in dates]
        slots = await conn.fetch(
            """SELECT w.d AS lesson_date, s.lesson_number, s.subject_id, s.teacher_id, s.room,
                      s.starts_at, s.ends_at
               FROM unnest($1::date[], $2::uuid[], $3::smallint[]) AS w(d, class_id, weekday)
               CROSS JOIN LATERAL (
                   SELECT DISTINCT ON (t.lesson_number) t.* FROM journal_timetable_slots t
                   WHERE t.class_id = w.class_id AND t.weekday = w.weekday AND t.valid_from <= w.d
                   ORDER BY t.lesson_number, t.valid_from DESC) s
               WHERE NOT s.cleared""",
            dates,
            class_ids,
            weekdays,
        )
        changes = await conn.fetch(
            """SELECT c.lesson_date, c.lesson_number, c.kind, c.subject_id, c.teacher_id, c.room,
                      c.reason
               FROM unnest($1::date[], $2::uuid[]) AS w(d, class_id)
               JOIN journal_timetable_changes c ON c.class_id = w.class_id AND c.lesson_date = w.d""",
            dates,
            class_ids,
        )
        lessons = await conn.fetch(
            """SELECT l.lesson_id, l.lesson_date, l.lesson_number, l.subject_id, l.teacher_id,
                      l.lesson_topic, l.description
               FROM unnest($1::date[], $2::uuid[]) AS w(d, class_id)
               JOIN journal_lessons l ON l.class_id = w.class_id AND l.lesson_date = w.d""",
            dates,
            class_ids,
        )
        homework = await conn.fetch(
            """SELECT h.homework_id, h.lesson_id, h.subject_id, h.lesson_date, h.lesson_number,
                      h.due_on, h.kind, h.text, h.attachments
               FROM unnest($1::date[], $2::uuid[]) AS w(d, class_id)
               JOIN journal_homework h ON h.class_id = w.class_id AND h.lesson_date = w.d
               WHERE NOT h.removed
               UNION
               SELECT h.homework_id, h.lesson_id, h.subject_id, h.lesson_date, h.lesson_number,
                      h.due_on, h.kind, h.text, h.attachments
               FROM unnest($1::date[], $2::uuid[]) AS w(d, class_id)
               JOIN journal_homework h ON h.class_id = w.class_id AND h.due_on = w.d
               WHERE NOT h.removed""",
            dates,
            class_ids,
        )
    names = await _Names.load(conn, [*slots, *changes, *lessons, *homework, *marks, *remarks])
    return assemble_days(days, classes, slots, changes, lessons, homework, marks, attendance, remarks, names)


@dataclass
class _Names:
    """Subject and teacher names for the ids a query touched, fetched in two statements."""

    subjects: dict[UUID, str] = field(default_factory=dict)
    teachers: dict[UUID, str] = field(default_factory=dict)

    @classmethod
    async def load(cls, conn: Connection, rows: Iterable[Row]) -> _Names:
        subject_ids: set[UUID] = set()
        teacher_ids: set[UUID] = set()
        for row in rows:
            keys = row.keys()
            if "subject_id" in keys and row["subject_id"]:
                subject_ids.add(row["subject_id"])
            if "teacher_id" in keys and row["teacher_id"]:
                teacher_ids.add(row["teacher_id"])
        names = cls()
        if subject_ids:
            for row in await conn.fetch(
                "SELECT subject_id, name FROM roster_subjects WHERE subject_id = ANY($1::uuid[])",
                list(subject_ids),
            ):
                names.subjects[row["subject_id"]] = row["name"]
        if teacher_ids:
            for row in await conn.fetch(
                """SELECT teacher_id, surname, first_name, patronymic FROM roster_teachers
                   WHERE teacher_id = ANY($1::uuid[])""",
                list(teacher_ids),
            ):
                name = full_name(row["surname"], row["first_name"], row["patronymic"])
                if name:
                    names.teachers[row["teacher_id"]] = name
        return names

    def mark(self, row: Row) -> Mark:
        return Mark(
            mark_id=row["mark_id"],
            subject_id=row["subject_id"],
            subject_name=self.subjects.get(row["subject_id"]),
            teacher_id=row["teacher_id"],
            teacher_name=self.teachers.get(row["teacher_id"]),
            lesson_date=row["lesson_date"],
            lesson_number=row["lesson_number"],
            value=row["value"],
            work_type=row["work_type"],
            weight=row["weight"],
            comment=row["comment"],
            version=row["version"],
            recorded_at=row["recorded_at"],
            corrected_at=row["corrected_at"],
            correction_reason=row["correction_reason"],
        )

    def homework(self, row: Row) -> Homework:
        return Homework(
            homework_id=row["homework_id"],
            subject_id=row["subject_id"],
            subject_name=self.subjects.get(row["subject_id"]),
            kind=row["kind"],
            text=row["text"],
            attachments=[Attachment(a["title"], a["url"]) for a in row["attachments"] or ()],
            set_on=row["lesson_date"],
            set_in_lesson=row["lesson_number"],
            due_on=row["due_on"],
        )


def assemble_days(
    days: Sequence[date],
    classes: Sequence[UUID | None],
    slots: Iterable[Row],
    changes: Iterable[Row],
    lessons: Iterable[Row],
    homework: Iterable[Row],
    marks: Iterable[Row],
    attendance: Iterable[Row],
    remarks: Iterable[Row],
    names: _Names,
) -> list[DiaryDay]:
    """Put a week together: the timetable of each day with its dated changes applied, and what
    the journal holds for each lesson (keyed by date and lesson number).

    A substitution or a journal entry for a slot the timetable lacks still shows as a lesson;
    a mark that names no lesson goes to the first lesson of its subject that day, else to
    `other_marks`, so no mark is ever hidden.
    """
    plan: dict[tuple[date, int], dict[str, Any]] = {}
    for slot in slots:
        plan[(slot["lesson_date"], slot["lesson_number"])] = {**slot, "status": "scheduled", "reason": None}
    for change in changes:
        key = (change["lesson_date"], change["lesson_number"])
        lesson = plan.setdefault(key, {"starts_at": None, "ends_at": None, "room": None})
        lesson["reason"] = change["reason"]
        if change["kind"] == "cancellation":
            lesson["status"] = "cancelled"
            lesson.setdefault("subject_id", None)
            lesson.setdefault("teacher_id", None)
        else:
            lesson["status"] = "substituted"
            lesson["subject_id"] = change["subject_id"]
            lesson["teacher_id"] = change["teacher_id"]
            lesson["room"] = change["room"] or lesson["room"]
    journal: dict[tuple[date, int], Row] = {}
    lesson_ids: dict[tuple[date, int], UUID] = {}
    for entry in lessons:
        key = (entry["lesson_date"], entry["lesson_number"])
        journal[key] = entry
        lesson_ids[key] = entry["lesson_id"]
        plan.setdefault(
            key,
            {
                "status": "scheduled",
                "reason": None,
                "subject_id": entry["subject_id"],
                "teacher_id": entry["teacher_id"],
                "starts_at": None,
                "ends_at": None,
                "room": None,
            },
        )
    set_in: dict[tuple[date, int], list[Homework]] = defaultdict(list)
    due: dict[date, list[Homework]] = defaultdict(list)
    week = set(days)
    for row in sorted(homework, key=lambda h: (h["lesson_date"], h["lesson_number"], str(h["homework_id"]))):
        item = names.homework(row)
        key = (row["lesson_date"], row["lesson_number"])
        lesson_ids.setdefault(key, row["lesson_id"])
        if row["lesson_date"] in week:
            set_in[key].append(item)
        if row["due_on"] in week:
            due[row["due_on"]].append(item)
    seen: dict[tuple[date, int], Attendance] = {}
    for row in attendance:
        key = (row["lesson_date"], row["lesson_number"])
        lesson_ids.setdefault(key, row["lesson_id"])
        seen[key] = Attendance(row["status"], row["absence_reason"], row["minutes_late"])
    said: dict[tuple[date, int], list[Remark]] = defaultdict(list)
    for row in remarks:
        key = (row["lesson_date"], row["lesson_number"])
        said[key].append(
            Remark(
                row["remark_id"],
                row["teacher_id"],
                names.teachers.get(row["teacher_id"]),
                row["text"],
                row["made_at"],
            )
        )
    by_lesson_id = {lesson_id: key for key, lesson_id in lesson_ids.items()}
    placed: dict[tuple[date, int], list[Mark]] = defaultdict(list)
    unplaced: dict[date, list[Mark]] = defaultdict(list)
    for row in marks:
        lesson_key = _lesson_of_mark(row, plan, by_lesson_id)
        if lesson_key is None:
            unplaced[row["lesson_date"]].append(names.mark(row))
        else:
            placed[lesson_key].append(names.mark(row))

    result = []
    for day, class_id in zip(days, classes, strict=True):
        numbers = sorted(number for (lesson_day, number) in plan if lesson_day == day)
        day_lessons = []
        for number in numbers:
            key = (day, number)
            lesson = plan[key]
            topic = journal.get(key)
            day_lessons.append(
                DiaryLesson(
                    lesson_number=number,
                    lesson_id=lesson_ids.get(key)
                    or (lesson_id_for(class_id, day, number) if class_id else None),
                    status=lesson["status"],
                    change_reason=lesson["reason"],
                    starts_at=lesson["starts_at"],
                    ends_at=lesson["ends_at"],
                    subject_id=lesson["subject_id"],
                    subject_name=names.subjects.get(lesson["subject_id"]),
                    teacher_id=lesson["teacher_id"],
                    teacher_name=names.teachers.get(lesson["teacher_id"]),
                    room=lesson["room"],
                    lesson_topic=topic["lesson_topic"] if topic else None,
                    description=topic["description"] if topic else None,
                    homework=set_in.get(key, []),
                    marks=placed.get(key, []),
                    attendance=seen.get(key),
                    remarks=said.get(key, []),
                )
            )
        result.append(
            DiaryDay(day, day.isoweekday(), class_id, day_lessons, due.get(day, []), unplaced.get(day, []))
        )
    return result


def _lesson_of_mark(
    mark: Row,
    plan: Mapping[tuple[date, int], Row],
    by_lesson_id: Mapping[UUID, tuple[date, int]],
) -> tuple[date, int] | None:
    day = mark["lesson_date"]
    if mark["lesson_number"] is not None and (day, mark["lesson_number"]) in plan:
        return (day, mark["lesson_number"])
    if mark["lesson_id"] is not None and mark["lesson_id"] in by_lesson_id:
        return by_lesson_id[mark["lesson_id"]]
    same_subject = sorted(
        number
        for (lesson_day, number), lesson in plan.items()
        if lesson_day == day
        and lesson["subject_id"] == mark["subject_id"]
        and lesson["status"] != "cancelled"
    )
    return (day, same_subject[0]) if same_subject else None


# --- Final marks, attendance, teachers, rating, report, exams ------------------------------------


async def final_marks(conn: Connection, education_id: UUID, school_year_id: UUID | None = None) -> FinalMarks:
    """Periods × subjects per school year the pupil spent in this school, newest year first."""
    years = await conn.fetch(
        """WITH ids AS (
               SELECT c.school_year_id FROM roster_education_classes ec
               JOIN roster_classes c USING (class_id) WHERE ec.education_id = $1
               UNION SELECT school_year_id FROM diary_final_marks WHERE education_id = $1)
           SELECT ids.school_year_id, y.name, y.starts_on, y.ends_on
           FROM ids LEFT JOIN roster_school_years y USING (school_year_id)
           WHERE $2::uuid IS NULL OR ids.school_year_id = $2
           ORDER BY y.starts_on DESC NULLS LAST""",
        education_id,
        school_year_id,
    )
    year_ids = [row["school_year_id"] for row in years]
    periods = await conn.fetch(
        """SELECT school_year_id, period_id, kind, number, name, starts_on, ends_on FROM roster_periods
           WHERE school_year_id = ANY($1::uuid[]) ORDER BY starts_on, ends_on DESC""",
        year_ids,
    )
    marks = await conn.fetch(
        """SELECT school_year_id, subject_id, period_id, value, suggested_average, set_at
           FROM diary_final_marks WHERE education_id = $1 AND school_year_id = ANY($2::uuid[])""",
        education_id,
        year_ids,
    )
    taught = await conn.fetch(
        """SELECT DISTINCT c.school_year_id, a.subject_id FROM roster_education_classes ec
           JOIN roster_classes c USING (class_id)
           JOIN roster_assignments a ON a.class_id = ec.class_id AND a.active
           WHERE ec.education_id = $1 AND c.school_year_id = ANY($2::uuid[])""",
        education_id,
        year_ids,
    )
    names = await _Names.load(conn, [*marks, *taught])
    result = []
    for year in years:
        year_id = year["school_year_id"]
        by_subject: dict[UUID, list[FinalMark]] = {
            row["subject_id"]: [] for row in taught if row["school_year_id"] == year_id
        }
        for row in marks:
            if row["school_year_id"] == year_id:
                by_subject.setdefault(row["subject_id"], []).append(
                    FinalMark(row["period_id"], row["value"], row["suggested_average"], row["set_at"])
                )
        subjects = [
            SubjectFinalMarks(subject, names.subjects.get(subject), marks_)
            for subject, marks_ in by_subject.items()
        ]
        subjects.sort(key=lambda s: (s.subject_name or "", str(s.subject_id)))
        result.append(
            SchoolYearFinalMarks(
                school_year_id=year_id,
                name=year["name"],
                starts_on=year["starts_on"],
                ends_on=year["ends_on"],
                periods=[
                    Period(p["period_id"], p["kind"], p["number"], p["name"], p["starts_on"], p["ends_on"])
                    for p in periods
                    if p["school_year_id"] == year_id
                ],
                subjects=subjects,
            )
        )
    return FinalMarks(education_id, result)


_ABSENCES = """count(*) FILTER (WHERE a.status = 'absent') AS missed,
               count(*) FILTER (WHERE a.status = 'absent' AND a.absence_reason = 'excused') AS excused,
               count(*) FILTER (WHERE a.status = 'absent'
                                  AND coalesce(a.absence_reason, 'unexcused') = 'unexcused') AS unexcused,
               count(*) FILTER (WHERE a.status = 'absent' AND a.absence_reason = 'illness') AS illness,
               count(*) FILTER (WHERE a.status = 'late') AS late,
               coalesce(sum(a.minutes_late), 0) AS minutes_late"""


def _absences(row: Row) -> Absences:
    return Absences(
        row["missed"], row["excused"], row["unexcused"], row["illness"], row["late"], row["minutes_late"]
    )


async def attendance_summary(
    conn: Connection, education_id: UUID, date_from: date, date_to: date
) -> AttendanceSummary:
    """Missed lessons per subject (an absence without a reason counts as unexcused) and lateness."""
    rows = await conn.fetch(
        f"""SELECT a.subject_id, {_ABSENCES} FROM journal_attendance a
            WHERE a.education_id = $1 AND a.lesson_date BETWEEN $2 AND $3 AND a.status <> 'present'
            GROUP BY a.subject_id""",
        education_id,
        date_from,
        date_to,
    )
    names = await _Names.load(conn, rows)
    subjects = sorted(
        (SubjectAttendance(r["subject_id"], names.subjects.get(r["subject_id"]), _absences(r)) for r in rows),
        key=lambda s: (s.subject_name or "", str(s.subject_id)),
    )
    total = Absences(
        *(sum(getattr(s.absences, name) for s in subjects) for name in Absences.__dataclass_fields__)
    )
    return AttendanceSummary(education_id, date_from, date_to, subjects, total)


async def pupil_teachers(conn: Connection, education_id: UUID, on: date) -> PupilTeachers | None:
    """Subject → teachers of the pupil's class on `on` (or the latest class), and the form teacher."""
    row = await conn.fetchrow(
        """SELECT c.class_id, c.name, c.form_teacher_id FROM roster_education_classes ec
           JOIN roster_classes c USING (class_id)
           WHERE ec.education_id = $1
           ORDER BY (ec.from_on <= $2 AND (ec.to_on IS NULL OR $2 < ec.to_on)) DESC, ec.from_on DESC
           LIMIT 1""",
        education_id,
        on,
    )
    if row is None:
        return None
    rows = await conn.fetch(
        """SELECT a.subject_id, t.teacher_id, t.surname, t.first_name, t.patronymic, t.position
           FROM roster_assignments a JOIN roster_teachers t ON t.teacher_id = a.teacher_id
           WHERE a.class_id = $1 AND a.active AND NOT t.dismissed
           ORDER BY t.surname, t.first_name, t.teacher_id""",
        row["class_id"],
    )
    form_teacher = None
    if row["form_teacher_id"] is not None:
        teacher = await conn.fetchrow(
            """SELECT teacher_id, surname, first_name, patronymic, position FROM roster_teachers
               WHERE teacher_id = $1 AND NOT dismissed""",
            row["form_teacher_id"],
        )
        form_teacher = _teacher_ref(teacher) if teacher else None
    names = await _Names.load(conn, [{"subject_id": r["subject_id"]} for r in rows])
    by_subject: dict[UUID, list[TeacherRef]] = defaultdict(list)
    for r in rows:
        by_subject[r["subject_id"]].append(_teacher_ref(r))
    subjects = sorted(
        (SubjectTeachers(s, names.subjects.get(s), teachers) for s, teachers in by_subject.items()),
        key=lambda s: (s.subject_name or "", str(s.subject_id)),
    )
    return PupilTeachers(education_id, row["class_id"], row["name"], form_teacher, subjects)


def _teacher_ref(row: Row) -> TeacherRef:
    name = full_name(row["surname"], row["first_name"], row["patronymic"]) or ""
    return TeacherRef(row["teacher_id"], name, row["position"])


async def class_rating(conn: Connection, education_id: UUID, date_from: date, date_to: date) -> ClassRating:
    """The pupil's position per subject among the pupils of their class with an average.

    The class is the pupil's class at the end of the range; its pupils are everyone who was in
    it at some point in the range. Equal averages share a position (1, 2, 2, 4).
    """
    class_id = await conn.fetchval(
        """SELECT class_id FROM roster_education_classes WHERE education_id = $1
           ORDER BY (from_on <= $2 AND (to_on IS NULL OR $2 < to_on)) DESC, from_on DESC LIMIT 1""",
        education_id,
        date_to,
    )
    rows = await conn.fetch(
        f"""WITH members AS (
                SELECT education_id FROM roster_education_classes
                WHERE class_id = $1 AND from_on <= $3 AND (to_on IS NULL OR to_on > $2)
                UNION SELECT $4::uuid),
            averages AS (
                SELECT m.education_id, m.subject_id, {_WEIGHTED_SUM}::numeric / {_WEIGHTS} AS average,
                       {_WEIGHTED_SUM} AS total, {_WEIGHTS} AS weights
                FROM members JOIN diary_marks m USING (education_id)
                WHERE m.lesson_date BETWEEN $2 AND $3 AND m.removed_at IS NULL
                GROUP BY m.education_id, m.subject_id
                HAVING {_WEIGHTS} > 0),
            ranked AS (
                SELECT *, rank() OVER (PARTITION BY subject_id ORDER BY average DESC) AS position
                FROM averages)
            SELECT subject_id, count(*) AS ranked,
                   max(position) FILTER (WHERE education_id = $4) AS position,
                   max(total) FILTER (WHERE education_id = $4) AS total,
                   max(weights) FILTER (WHERE education_id = $4) AS weights
            FROM ranked GROUP BY subject_id""",
        class_id,
        date_from,
        date_to,
        education_id,
    )
    names = await _Names.load(conn, rows)
    subjects = sorted(
        (
            SubjectRating(
                r["subject_id"],
                names.subjects.get(r["subject_id"]),
                rounded_average(r["total"], r["weights"]),
                r["position"],
                r["ranked"],
            )
            for r in rows
        ),
        key=lambda s: (s.subject_name or "", str(s.subject_id)),
    )
    return ClassRating(education_id, class_id, date_from, date_to, subjects)


async def class_report(
    conn: Connection, class_id: UUID, date_from: date, date_to: date
) -> ClassReport | None:
    """Per pupil and subject: average, marks and absences while the pupil was in the class.

    Staff-facing: it names the pupils (the name is NULL for an erased pupil).
    """
    klass = await conn.fetchrow("SELECT name FROM roster_classes WHERE class_id = $1", class_id)
    if klass is None:
        return None
    members_cte = """WITH members AS (
                SELECT education_id, greatest(from_on, $2) AS f,
                       least(coalesce(to_on - 1, $3::date), $3::date) AS t
                FROM roster_education_classes
                WHERE class_id = $1 AND from_on <= $3 AND (to_on IS NULL OR to_on > $2))"""
    pupils = await conn.fetch(
        f"""{members_cte}
            SELECT DISTINCT ON (e.education_id) e.education_id, e.pupil_id, p.surname, p.first_name,
                   p.patronymic
            FROM members mb JOIN roster_educations e USING (education_id)
            LEFT JOIN roster_pupils p USING (pupil_id)
            ORDER BY e.education_id""",
        class_id,
        date_from,
        date_to,
    )
    marks = await conn.fetch(
        f"""{members_cte}
            SELECT mb.education_id, m.subject_id, count(*) AS marks, {_WEIGHTED_SUM} AS total,
                   {_WEIGHTS} AS weights
            FROM members mb JOIN diary_marks m ON m.education_id = mb.education_id
                 AND m.lesson_date BETWEEN mb.f AND mb.t AND m.removed_at IS NULL
            GROUP BY mb.education_id, m.subject_id""",
        class_id,
        date_from,
        date_to,
    )
    absences = await conn.fetch(
        f"""{members_cte}
            SELECT mb.education_id, a.subject_id, {_ABSENCES}
            FROM members mb JOIN journal_attendance a ON a.education_id = mb.education_id
                 AND a.lesson_date BETWEEN mb.f AND mb.t AND a.status <> 'present'
            GROUP BY mb.education_id, a.subject_id""",
        class_id,
        date_from,
        date_to,
    )
    names = await _Names.load(conn, [*marks, *absences])
    cells: dict[UUID, dict[UUID, dict[str, Any]]] = defaultdict(dict)
    for row in marks:
        cells[row["education_id"]][row["subject_id"]] = {
            "weighted_average": rounded_average(row["total"], row["weights"]),
            "marks": row["marks"],
            "absences": Absences(),
        }
    for row in absences:
        cell = cells[row["education_id"]].setdefault(
            row["subject_id"], {"weighted_average": None, "marks": 0}
        )
        cell["absences"] = _absences(row)
    subject_ids = sorted(
        {subject for per_pupil in cells.values() for subject in per_pupil},
        key=lambda s: (names.subjects.get(s) or "", str(s)),
    )
    reports = [
        PupilReport(
            education_id=p["education_id"],
            pupil_id=p["pupil_id"],
            surname=p["surname"],
            first_name=p["first_name"],
            patronymic=p["patronymic"],
            subjects=[
                PupilSubjectReport(subject, **cells[p["education_id"]][subject])
                for subject in subject_ids
                if subject in cells[p["education_id"]]
            ],
        )
        for p in pupils
    ]
    reports.sort(key=lambda r: (r.surname or "", r.first_name or "", str(r.education_id)))
    return ClassReport(
        class_id,
        klass["name"],
        date_from,
        date_to,
        [SubjectName(s, names.subjects.get(s)) for s in subject_ids],
        reports,
    )


async def exam_results(conn: Connection, education_id: UUID) -> list[ExamResult]:
    """Results shown in this diary, and the pupil's results published without a diary."""
    rows = await conn.fetch(
        """SELECT result_id, exam, subject_name, exam_date, primary_score, max_primary_score,
                  test_score, mark, status
           FROM diary_exam_results WHERE education_id = $1
           UNION
           SELECT r.result_id, r.exam, r.subject_name, r.exam_date, r.primary_score,
                  r.max_primary_score, r.test_score, r.mark, r.status
           FROM roster_educations e JOIN diary_exam_results r
                ON r.pupil_id = e.pupil_id AND r.education_id IS NULL
           WHERE e.education_id = $1
           ORDER BY exam_date, subject_name""",
        education_id,
    )
    return [ExamResult(**row) for row in rows]


async def schools(conn: Connection) -> list[School]:
    rows = await conn.fetch(
        """SELECT school_id, district_id, district_name, name, short_name, address, closed
           FROM roster_schools ORDER BY district_name, name"""
    )
    return [School(**row) for row in rows]


async def school_exists(conn: Connection, school_id: UUID) -> bool:
    return bool(
        await conn.fetchval("SELECT EXISTS (SELECT 1 FROM roster_schools WHERE school_id = $1)", school_id)
    )


async def school_classes(
    conn: Connection, school_id: UUID, school_year_id: UUID | None = None
) -> list[SchoolClass]:
    rows = await conn.fetch(
        """SELECT class_id, school_year_id, grade, letter, name, form_teacher_id, closed
           FROM roster_classes WHERE school_id = $1 AND ($2::uuid IS NULL OR school_year_id = $2)
           ORDER BY grade, letter""",
        school_id,
        school_year_id,
    )
    return [SchoolClass(**row) for row in rows]


async def class_pupils(conn: Connection, class_id: UUID, on: date) -> list[ClassPupil]:
    """Who is in the class on a date, with names (staff-facing; NULL names for erased pupils)."""
    rows = await conn.fetch(
        """SELECT ec.education_id, e.pupil_id, p.surname, p.first_name, p.patronymic,
                  ec.from_on AS in_class_since
           FROM roster_education_classes ec
           JOIN roster_educations e USING (education_id)
           LEFT JOIN roster_pupils p USING (pupil_id)
           WHERE ec.class_id = $1 AND ec.from_on <= $2 AND (ec.to_on IS NULL OR $2 < ec.to_on)
             AND e.enrolled_on <= $2 AND (e.left_on IS NULL OR $2 < e.left_on)
           ORDER BY p.surname, p.first_name, ec.education_id""",
        class_id,
        on,
    )
    return [ClassPupil(**row) for row in rows]


async def pupil_profile(conn: Connection, pupil_id: UUID, on: date) -> PupilProfile | None:
    """The pupil's name (NULL once erased) and every enrolment, its class on `on` or its last one."""
    pupil = await conn.fetchrow(
        "SELECT surname, first_name, patronymic FROM roster_pupils WHERE pupil_id = $1", pupil_id
    )
    rows = await conn.fetch(
        """SELECT e.education_id, e.school_id, s.short_name AS school_name, e.enrolled_on, e.left_on,
                  (e.left_on IS NULL OR e.left_on > $2) AS is_active, c.class_id, c.name AS class_name
           FROM roster_educations e
           LEFT JOIN roster_schools s USING (school_id)
           LEFT JOIN LATERAL (
               SELECT ec.class_id FROM roster_education_classes ec
               WHERE ec.education_id = e.education_id AND ec.from_on <= greatest($2, e.enrolled_on)
               ORDER BY ec.from_on DESC LIMIT 1
           ) AS current ON true
           LEFT JOIN roster_classes c ON c.class_id = current.class_id
           WHERE e.pupil_id = $1
           ORDER BY e.enrolled_on DESC, e.education_id""",
        pupil_id,
        on,
    )
    if pupil is None and not rows:
        return None
    return PupilProfile(
        pupil_id=pupil_id,
        surname=pupil["surname"] if pupil else None,
        first_name=pupil["first_name"] if pupil else None,
        patronymic=pupil["patronymic"] if pupil else None,
        educations=[PupilEducation(**row) for row in rows],
    )
