"""The roster the gradebook mirrors from the school registry.

The registry owns schools, classes, pupils and teachers; each of its records becomes an aggregate
here whose only decision is "what changed since the last state I saw". Re-sending a record that
changes nothing raises no event, so the registry may repeat itself freely. References between
records (a class's school year, an enrolment's class) are checked by the service layer, which
can see other aggregates; each aggregate checks only itself.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from diary_events import gradebook as ev
from diary_events.base import DomainEvent
from diary_events.personal import SealedPersonalData
from diary_events.registry import (
    ClassRecord,
    EnrolmentRecord,
    SchoolRecord,
    SchoolYearRecord,
    SubjectRecord,
    TeacherRecord,
    TeachingAssignmentRecord,
)
from diary_kernel.aggregate import Aggregate


class RosterError(Exception):
    """A registry record the gradebook cannot accept; the reason goes to the dead-letter topic."""


def class_name(grade: int, letter: str) -> str:
    """How a class is written in Russian schools: grade and letter, «5А»."""
    return f"{grade}{letter.upper()}"


class School(Aggregate):
    stream_type = "school"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.state: dict[str, Any] | None = None
        self.closed = False

    def sync(self, record: SchoolRecord) -> None:
        if record.closed:
            if self.exists and not self.closed:
                self.raise_event(ev.SchoolClosed(school_id=record.school_id))
            return
        if self.closed:
            raise RosterError(f"school {record.school_id} was closed; the registry cannot reopen it")
        fields = {
            "school_id": record.school_id,
            "district_id": record.district_id,
            "district_name": record.district_name,
            "name": record.name,
            "short_name": record.short_name,
            "address": record.address,
        }
        if not self.exists:
            self.raise_event(ev.SchoolRegistered(**fields))
        elif fields != self.state:
            self.raise_event(ev.SchoolChanged(**fields))

    def when(self, event: DomainEvent) -> None:
        match event:
            case ev.SchoolRegistered():  # SchoolChanged is a subclass
                self.state = event.model_dump()
            case ev.SchoolClosed():
                self.closed = True
            case _:
                raise TypeError(f"a school does not take {type(event).__name__}")

    @property
    def open(self) -> bool:
        return self.exists and not self.closed


class Subject(Aggregate):
    stream_type = "subject"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.school_id: UUID | None = None
        self.name: str | None = None

    def sync(self, record: SubjectRecord) -> None:
        if self.exists and self.school_id != record.school_id:
            raise RosterError(f"subject {record.subject_id} belongs to another school")
        if self.name != record.name:
            self.raise_event(
                ev.SubjectRegistered(
                    subject_id=record.subject_id, school_id=record.school_id, name=record.name
                )
            )

    def when(self, event: DomainEvent) -> None:
        if not isinstance(event, ev.SubjectRegistered):
            raise TypeError(f"a subject does not take {type(event).__name__}")
        self.school_id, self.name = event.school_id, event.name


class SchoolYear(Aggregate):
    stream_type = "school-year"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.opened: ev.SchoolYearOpened | None = None

    def sync(self, record: SchoolYearRecord) -> None:
        if self.opened is not None and self.opened.school_id != record.school_id:
            raise RosterError(f"school year {record.school_year_id} belongs to another school")
        opened = ev.SchoolYearOpened(
            school_year_id=record.school_year_id,
            school_id=record.school_id,
            name=record.name,
            starts_on=record.starts_on,
            ends_on=record.ends_on,
            periods=[ev.Period(**period.model_dump()) for period in record.periods],
        )
        if opened != self.opened:
            self.raise_event(opened)

    def period(self, period_id: UUID) -> ev.Period | None:
        if self.opened is None:
            return None
        return next((p for p in self.opened.periods if p.period_id == period_id), None)

    def when(self, event: DomainEvent) -> None:
        if not isinstance(event, ev.SchoolYearOpened):
            raise TypeError(f"a school year does not take {type(event).__name__}")
        self.opened = event


class SchoolClass(Aggregate):
    """A class («5А») of one school year."""

    stream_type = "class"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.state: ev.ClassOpened | None = None
        self.closed = False

    @property
    def school_id(self) -> UUID | None:
        return self.state.school_id if self.state else None

    def sync(self, record: ClassRecord) -> None:
        if self.state is not None and self.state.school_id != record.school_id:
            raise RosterError(f"class {record.class_id} belongs to another school")
        if record.closed:
            if self.exists and not self.closed:
                self.raise_event(ev.ClassClosed(class_id=record.class_id, school_id=record.school_id))
            return
        if self.closed:
            raise RosterError(f"class {record.class_id} was closed; the registry cannot reopen it")
        fields: dict[str, Any] = {
            "class_id": record.class_id,
            "school_id": record.school_id,
            "school_year_id": record.school_year_id,
            "grade": record.grade,
            "letter": record.letter.upper(),
            "name": class_name(record.grade, record.letter),
            "form_teacher_id": record.form_teacher_id,
        }
        if self.state is None:
            self.raise_event(ev.ClassOpened(**fields))
        elif ev.ClassOpened(**fields) != ev.ClassOpened(**self.state.model_dump()):
            self.raise_event(ev.ClassChanged(**fields))

    def when(self, event: DomainEvent) -> None:
        match event:
            case ev.ClassOpened():  # ClassChanged is a subclass
                self.state = event
            case ev.ClassClosed():
                self.closed = True
            case _:
                raise TypeError(f"a class does not take {type(event).__name__}")

    @property
    def open(self) -> bool:
        return self.exists and not self.closed


PERSONAL_FIELDS = ("surname", "first_name", "patronymic", "birth_date")


class Pupil(Aggregate):
    """A pupil as a person; the personal data lives only sealed in the events."""

    stream_type = "pupil"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.sealed: SealedPersonalData | None = None

    def register(self, pupil_id: UUID, sealed: SealedPersonalData) -> None:
        """Record new personal data; the caller has found that it differs from the last."""
        self.raise_event(ev.PupilRegistered(pupil_id=pupil_id, personal_data=sealed))

    def when(self, event: DomainEvent) -> None:
        if not isinstance(event, ev.PupilRegistered):
            raise TypeError(f"a pupil does not take {type(event).__name__}")
        self.sealed = event.personal_data


class Education(Aggregate):
    """A pupil's enrolment in one school (the key of their diary there), with its class history."""

    stream_type = "education"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.pupil_id: UUID | None = None
        self.school_id: UUID | None = None
        self.class_id: UUID | None = None
        self.classes: list[tuple[date, UUID]] = []
        self.left_on: date | None = None

    def sync(self, record: EnrolmentRecord) -> None:
        if self.exists and (self.pupil_id, self.school_id) != (record.pupil_id, record.school_id):
            raise RosterError(f"enrolment {record.education_id} belongs to another pupil or school")
        if not self.exists:
            self.raise_event(
                ev.PupilEnrolled(
                    education_id=record.education_id,
                    pupil_id=record.pupil_id,
                    school_id=record.school_id,
                    class_id=record.class_id,
                    enrolled_on=record.enrolled_on,
                )
            )
        elif self.left_on is not None:
            if record.left_on is None:
                raise RosterError(
                    f"enrolment {record.education_id} has ended; a return to the school is a new enrolment"
                )
            return
        elif record.class_id != self.class_id:
            assert self.class_id is not None
            self.raise_event(
                ev.PupilTransferred(
                    education_id=record.education_id,
                    pupil_id=record.pupil_id,
                    school_id=record.school_id,
                    from_class_id=self.class_id,
                    to_class_id=record.class_id,
                    transferred_on=record.class_since or record.enrolled_on,
                )
            )
        if record.left_on is not None:
            self.raise_event(
                ev.PupilLeftSchool(
                    education_id=record.education_id,
                    pupil_id=record.pupil_id,
                    school_id=record.school_id,
                    class_id=record.class_id,
                    left_on=record.left_on,
                    reason=record.leaving_reason or "other",
                )
            )

    def class_on(self, day: date) -> UUID | None:
        """The class the pupil was in on `day` (the first class for days before enrolment)."""
        current = self.classes[0][1] if self.classes else None
        for since, class_id in self.classes:
            if since <= day:
                current = class_id
        return current

    @property
    def active(self) -> bool:
        return self.exists and self.left_on is None

    def when(self, event: DomainEvent) -> None:
        match event:
            case ev.PupilEnrolled():
                self.pupil_id, self.school_id = event.pupil_id, event.school_id
                self.class_id = event.class_id
                self.classes.append((event.enrolled_on, event.class_id))
            case ev.PupilTransferred():
                self.class_id = event.to_class_id
                self.classes.append((event.transferred_on, event.to_class_id))
            case ev.PupilLeftSchool():
                self.left_on = event.left_on
            case _:
                raise TypeError(f"an enrolment does not take {type(event).__name__}")


class Teacher(Aggregate):
    stream_type = "teacher"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.state: ev.TeacherRegistered | None = None
        self.dismissed = False

    @property
    def school_id(self) -> UUID | None:
        return self.state.school_id if self.state else None

    def sync(self, record: TeacherRecord) -> None:
        if self.state is not None and self.state.school_id != record.school_id:
            raise RosterError(f"teacher {record.teacher_id} belongs to another school")
        if record.dismissed:
            if self.exists and not self.dismissed:
                self.raise_event(
                    ev.TeacherDismissed(teacher_id=record.teacher_id, school_id=record.school_id)
                )
            return
        registered = ev.TeacherRegistered(
            teacher_id=record.teacher_id,
            school_id=record.school_id,
            surname=record.surname,
            first_name=record.first_name,
            patronymic=record.patronymic,
            position=record.position,
        )
        if registered != self.state or self.dismissed:
            self.raise_event(registered)

    def when(self, event: DomainEvent) -> None:
        match event:
            case ev.TeacherRegistered():
                self.state, self.dismissed = event, False
            case ev.TeacherDismissed():
                self.dismissed = True
            case _:
                raise TypeError(f"a teacher does not take {type(event).__name__}")


class TeachingAssignment(Aggregate):
    """A teacher teaching a subject in a class: what lets them keep that journal."""

    stream_type = "assignment"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.current: ev.TeacherAssigned | None = None

    def sync(self, record: TeachingAssignmentRecord) -> None:
        wanted = (
            ev.TeacherAssigned(
                assignment_id=record.assignment_id,
                teacher_id=record.teacher_id,
                school_id=record.school_id,
                class_id=record.class_id,
                subject_id=record.subject_id,
            )
            if record.active
            else None
        )
        if wanted == self.current:
            return
        if self.current is not None:
            self.raise_event(ev.TeacherUnassigned(**self.current.model_dump()))
        if wanted is not None:
            self.raise_event(wanted)

    def when(self, event: DomainEvent) -> None:
        match event:
            case ev.TeacherUnassigned():
                self.current = None
            case ev.TeacherAssigned():
                self.current = event
            case _:
                raise TypeError(f"an assignment does not take {type(event).__name__}")
