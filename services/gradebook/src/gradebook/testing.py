"""A tiny school for the gradebook's tests: registry records to publish and the actors to act as.

One school with one school year (four quarters), two subjects, two teachers, two classes and a
few pupils — enough to test who may write where, transfers and reports, small enough to read.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer

from diary_events.base import DomainEvent
from diary_events.registry import (
    REGISTRY_ROSTER_TOPIC,
    ClassRecord,
    EnrolmentRecord,
    PeriodRecord,
    PupilRecord,
    RegistryRecord,
    SchoolRecord,
    SchoolYearRecord,
    SubjectRecord,
    TeacherRecord,
    TeachingAssignmentRecord,
)
from diary_kernel.envelope import Envelope

REGISTRY_SOURCE = "/registry/paragraph"


def _id() -> UUID:
    return uuid.uuid4()


def school_year_around(today: date) -> tuple[date, date]:
    start_year = today.year if today.month >= 9 else today.year - 1
    return date(start_year, 9, 1), date(start_year + 1, 5, 31)


@dataclass
class TinySchool:
    """Ids of everything in the tiny school; `records()` is what the registry would publish."""

    today: date = field(default_factory=date.today)
    school_id: UUID = field(default_factory=_id)
    district_id: UUID = field(default_factory=_id)
    school_year_id: UUID = field(default_factory=_id)
    quarters: list[UUID] = field(default_factory=lambda: [_id() for _ in range(4)])
    year_period_id: UUID = field(default_factory=_id)
    maths: UUID = field(default_factory=_id)
    russian: UUID = field(default_factory=_id)
    maths_teacher: UUID = field(default_factory=_id)
    russian_teacher: UUID = field(default_factory=_id)
    staff_id: UUID = field(default_factory=_id)
    class_a: UUID = field(default_factory=_id)
    class_b: UUID = field(default_factory=_id)
    pupils: list[UUID] = field(default_factory=lambda: [_id() for _ in range(4)])
    educations: list[UUID] = field(default_factory=lambda: [_id() for _ in range(4)])
    assignments: list[UUID] = field(default_factory=lambda: [_id() for _ in range(4)])

    @property
    def year(self) -> tuple[date, date]:
        return school_year_around(self.today)

    def periods(self) -> list[PeriodRecord]:
        starts, ends = self.year
        bounds = [starts, date(starts.year, 11, 3), date(starts.year + 1, 1, 9), date(starts.year + 1, 3, 30)]
        ends_of = [b - timedelta(days=1) for b in bounds[1:]] + [ends]
        quarters = [
            PeriodRecord(
                period_id=self.quarters[n],
                kind="quarter",
                number=n + 1,
                name=f"{n + 1} четверть",
                starts_on=bounds[n],
                ends_on=ends_of[n],
            )
            for n in range(4)
        ]
        year = PeriodRecord(
            period_id=self.year_period_id, kind="year", number=1, name="Год", starts_on=starts, ends_on=ends
        )
        return [*quarters, year]

    def quarter_of(self, day: date) -> UUID:
        return next(
            p.period_id for p in self.periods() if p.kind == "quarter" and p.starts_on <= day <= p.ends_on
        )

    def records(self, revision: int = 1) -> list[RegistryRecord]:
        """The school as the registry publishes it: class A has pupils 0–2, class B pupil 3."""
        s, r = self.school_id, revision
        starts, ends = self.year
        records: list[RegistryRecord] = [
            SchoolRecord(
                school_id=s,
                revision=r,
                district_id=self.district_id,
                district_name="Петроградский район",
                name="ГБОУ СОШ № 77 Петроградского района",
                short_name="Школа № 77",
            ),
            SubjectRecord(school_id=s, revision=r, subject_id=self.maths, name="Математика"),
            SubjectRecord(school_id=s, revision=r, subject_id=self.russian, name="Русский язык"),
            SchoolYearRecord(
                school_id=s,
                revision=r,
                school_year_id=self.school_year_id,
                name=f"{starts.year}/{ends.year}",
                starts_on=starts,
                ends_on=ends,
                periods=self.periods(),
            ),
            TeacherRecord(
                school_id=s,
                revision=r,
                teacher_id=self.maths_teacher,
                surname="Петрова",
                first_name="Анна",
                patronymic="Сергеевна",
                position="учитель математики",
            ),
            TeacherRecord(
                school_id=s,
                revision=r,
                teacher_id=self.russian_teacher,
                surname="Смирнов",
                first_name="Игорь",
                patronymic="Васильевич",
                position="учитель русского языка",
            ),
        ]
        for class_id, letter, form_teacher in (
            (self.class_a, "А", self.maths_teacher),
            (self.class_b, "Б", self.russian_teacher),
        ):
            records.append(
                ClassRecord(
                    school_id=s,
                    revision=r,
                    class_id=class_id,
                    school_year_id=self.school_year_id,
                    grade=5,
                    letter=letter,
                    form_teacher_id=form_teacher,
                )
            )
        names = [("Иванов", "Пётр"), ("Кузнецова", "Мария"), ("Соколов", "Артём"), ("Попова", "Ева")]
        for n, (surname, first_name) in enumerate(names):
            records.append(
                PupilRecord(
                    school_id=s,
                    revision=r,
                    pupil_id=self.pupils[n],
                    surname=surname,
                    first_name=first_name,
                    patronymic=None,
                    birth_date=date(starts.year - 11, 3 + n, 10),
                )
            )
            records.append(
                EnrolmentRecord(
                    school_id=s,
                    revision=r,
                    education_id=self.educations[n],
                    pupil_id=self.pupils[n],
                    class_id=self.class_a if n < 3 else self.class_b,
                    enrolled_on=starts,
                )
            )
        # Maths: Petrova in both classes; Russian: Smirnov in both classes.
        for n, (teacher, class_id, subject) in enumerate(
            (
                (self.maths_teacher, self.class_a, self.maths),
                (self.maths_teacher, self.class_b, self.maths),
                (self.russian_teacher, self.class_a, self.russian),
                (self.russian_teacher, self.class_b, self.russian),
            )
        ):
            records.append(
                TeachingAssignmentRecord(
                    school_id=s,
                    revision=r,
                    assignment_id=self.assignments[n],
                    teacher_id=teacher,
                    class_id=class_id,
                    subject_id=subject,
                )
            )
        return records

    def teacher(self, teacher_id: UUID | None = None) -> dict[str, str]:
        return actor_headers("teacher", teacher_id or self.maths_teacher, self.school_id)

    def staff(self) -> dict[str, str]:
        return actor_headers("school_staff", self.staff_id, self.school_id)


def last_weekday(today: date, weekday: int) -> date:
    """The latest date on or before `today` that falls on an ISO weekday."""
    return today - timedelta(days=(today.isoweekday() - weekday) % 7)


def timetable(school: TinySchool, valid_from: date) -> dict[str, Any]:
    """Class 5А: maths first lesson and Russian second, Monday to Friday."""
    slots = []
    for weekday in range(1, 6):
        slots.append(
            {
                "weekday": weekday,
                "lesson_number": 1,
                "subject_id": str(school.maths),
                "teacher_id": str(school.maths_teacher),
                "room": "21",
                "starts_at": "09:00",
                "ends_at": "09:45",
            }
        )
        slots.append(
            {
                "weekday": weekday,
                "lesson_number": 2,
                "subject_id": str(school.russian),
                "teacher_id": str(school.russian_teacher),
                "room": "14",
                "starts_at": "09:55",
                "ends_at": "10:40",
            }
        )
    return {"valid_from": valid_from.isoformat(), "slots": slots}


def actor_headers(role: str, actor_id: UUID, school_id: UUID | None) -> dict[str, str]:
    headers = {"X-Actor-Role": role, "X-Actor-Id": str(actor_id)}
    if school_id is not None:
        headers["X-Actor-School"] = str(school_id)
    return headers


def registry_message(record: DomainEvent, *, event_id: str | None = None) -> tuple[bytes, bytes, list[Any]]:
    """Key, body and CloudEvents headers of one record as the registry sends it."""
    envelope = Envelope.wrap(record, source=REGISTRY_SOURCE, event_id=event_id)
    key = str(getattr(record, "school_id", "")).encode()
    return key, envelope.body(), envelope.kafka_headers()


async def publish(
    bootstrap: str,
    records: Iterable[DomainEvent],
    *,
    topic: str = REGISTRY_ROSTER_TOPIC,
    topic_prefix: str = "",
    raw: Sequence[tuple[bytes | None, bytes | None, list[Any]]] = (),
) -> None:
    """Send records (and optionally raw, possibly broken, messages) as a regional system would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for record in records:
            key, body, headers = registry_message(record)
            await producer.send(topic_prefix + topic, body, key=key, headers=headers)
        for raw_key, raw_body, raw_headers in raw:
            await producer.send(topic_prefix + topic, raw_body, key=raw_key, headers=raw_headers)
        await producer.flush()
    finally:
        await producer.stop()
