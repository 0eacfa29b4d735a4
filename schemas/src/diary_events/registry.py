"""Messages on `integration.registry.roster.v1`: the roster as the school registry publishes it.

The regional school registry (AIS «Параграф») is the source of truth for schools, classes,
pupils and teachers. It publishes the current state of one record per message, with a
`revision` that grows with every change of that record; the gradebook mirrors the newest
revision and ignores older or repeated ones, so the registry may re-send freely.

The Kafka key is the school id for every message type: a school's records stay in order, so a
class always arrives before the enrolments that point at it.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from diary_events.base import DomainEvent

REGISTRY_ROSTER_TOPIC = "integration.registry.roster.v1"

PeriodKind = Literal["quarter", "half_year", "year"]
LeavingReason = Literal["transferred", "graduated", "expelled", "other"]

Name = Field(min_length=1, max_length=100)


class RegistryRecord(DomainEvent):
    topic: ClassVar[str] = REGISTRY_ROSTER_TOPIC
    key_description: ClassVar[str] = "school_id: a school's records stay in order"

    school_id: UUID
    revision: int = Field(ge=1, description="Grows with every change of this record in the registry.")


class SchoolRecord(RegistryRecord):
    """A school («образовательное учреждение») and its district («район»)."""

    event_type: ClassVar[str] = "diary.registry.School.v1"

    district_id: UUID
    district_name: str = Field(min_length=1, max_length=200, examples=["Петроградский район"])
    name: str = Field(min_length=1, max_length=300, examples=["ГБОУ СОШ № 77"])
    short_name: str = Field(min_length=1, max_length=100)
    address: str | None = Field(default=None, max_length=300)
    closed: bool = False


class SubjectRecord(RegistryRecord):
    """A subject («предмет») taught in the school."""

    event_type: ClassVar[str] = "diary.registry.Subject.v1"

    subject_id: UUID
    name: str = Field(min_length=1, max_length=200, examples=["Математика"])


class PeriodRecord(BaseModel):
    """One reporting period of a school year: a quarter, a half-year or the year itself."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    period_id: UUID
    kind: PeriodKind
    number: int = Field(ge=1, le=4)
    name: str = Field(min_length=1, max_length=100, examples=["1 четверть"])
    starts_on: date
    ends_on: date

    @model_validator(mode="after")
    def _ordered(self) -> PeriodRecord:
        if self.ends_on < self.starts_on:
            raise ValueError("a period cannot end before it starts")
        return self


class SchoolYearRecord(RegistryRecord):
    """A school year and its periods; grades may report by quarters or by half-years."""

    event_type: ClassVar[str] = "diary.registry.SchoolYear.v1"

    school_year_id: UUID
    name: str = Field(min_length=1, max_length=20, examples=["2025/2026"])
    starts_on: date
    ends_on: date
    periods: list[PeriodRecord] = Field(min_length=1)

    @model_validator(mode="after")
    def _periods_inside(self) -> SchoolYearRecord:
        if self.ends_on < self.starts_on:
            raise ValueError("a school year cannot end before it starts")
        for period in self.periods:
            if period.starts_on < self.starts_on or period.ends_on > self.ends_on:
                raise ValueError(f"period {period.name!r} lies outside the school year")
        return self


class ClassRecord(RegistryRecord):
    """A class («класс»): grade and letter in one school year, with its form teacher."""

    event_type: ClassVar[str] = "diary.registry.Class.v1"

    class_id: UUID
    school_year_id: UUID
    grade: int = Field(ge=1, le=11)
    letter: str = Field(min_length=1, max_length=3, examples=["А"])
    form_teacher_id: UUID | None = None
    closed: bool = False


class PupilRecord(RegistryRecord):
    """A pupil's personal data as the school holds it (no SNILS, no documents)."""

    event_type: ClassVar[str] = "diary.registry.Pupil.v1"

    pupil_id: UUID = Field(description="The person, the same in every school of the region.")
    surname: str = Name
    first_name: str = Name
    patronymic: str | None = Field(default=None, max_length=100)
    birth_date: date


class EnrolmentRecord(RegistryRecord):
    """A pupil's enrolment in the school: the «education» whose id keys the pupil's diary there.

    A move to another class of the same school changes `class_id`; leaving the school sets
    `left_on`; a move to another school is a new enrolment there with a new `education_id`.
    """

    event_type: ClassVar[str] = "diary.registry.Enrolment.v1"

    education_id: UUID
    pupil_id: UUID
    class_id: UUID
    enrolled_on: date
    class_since: date | None = Field(
        default=None, description="When the pupil joined `class_id`; the enrolment date if absent."
    )
    left_on: date | None = None
    leaving_reason: LeavingReason | None = None

    @model_validator(mode="after")
    def _leaving(self) -> EnrolmentRecord:
        if self.left_on is not None and self.left_on < self.enrolled_on:
            raise ValueError("left_on is before enrolled_on")
        return self


class TeacherRecord(RegistryRecord):
    """A member of the teaching staff of the school."""

    event_type: ClassVar[str] = "diary.registry.Teacher.v1"

    teacher_id: UUID
    surname: str = Name
    first_name: str = Name
    patronymic: str | None = Field(default=None, max_length=100)
    position: str = Field(min_length=1, max_length=100, examples=["учитель математики"])
    dismissed: bool = False


class TeachingAssignmentRecord(RegistryRecord):
    """Which teacher teaches which subject in which class («нагрузка»)."""

    event_type: ClassVar[str] = "diary.registry.TeachingAssignment.v1"

    assignment_id: UUID
    teacher_id: UUID
    class_id: UUID
    subject_id: UUID
    active: bool = True
