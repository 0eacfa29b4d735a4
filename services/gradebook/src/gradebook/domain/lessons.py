"""A dated lesson of a class in the journal: its topic, homework, attendance and remarks.

A lesson is addressed by class, date and number in the day, as a teacher finds it in the journal;
its id is derived from those, so the same lesson gets the same stream whoever writes first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from diary_events import gradebook as ev
from diary_events.base import DomainEvent
from diary_kernel.aggregate import Aggregate
from gradebook.domain.errors import JournalError, NotFound

LESSON_NAMESPACE = UUID("3f0d6a52-8d1e-4c53-9a59-2f4b7c1e9d10")


def lesson_id_for(class_id: UUID, lesson_date: date, lesson_number: int) -> UUID:
    return uuid.uuid5(LESSON_NAMESPACE, f"{class_id}/{lesson_date.isoformat()}/{lesson_number}")


@dataclass(frozen=True)
class LessonRef:
    """Where a lesson is and what is taught in it (the subject comes from the timetable)."""

    class_id: UUID
    school_id: UUID
    subject_id: UUID
    lesson_date: date
    lesson_number: int

    @property
    def lesson_id(self) -> UUID:
        return lesson_id_for(self.class_id, self.lesson_date, self.lesson_number)

    def facts(self) -> dict[str, object]:
        return {
            "lesson_id": self.lesson_id,
            "class_id": self.class_id,
            "school_id": self.school_id,
            "subject_id": self.subject_id,
            "lesson_date": self.lesson_date,
            "lesson_number": self.lesson_number,
        }


@dataclass(frozen=True)
class HomeworkSpec:
    homework_id: UUID
    due_on: date
    kind: ev.HomeworkKind
    text: str
    attachments: tuple[ev.Attachment, ...] = ()


@dataclass(frozen=True)
class AttendanceEntry:
    education_id: UUID
    status: ev.AttendanceStatus
    absence_reason: ev.AbsenceReason | None = None
    minutes_late: int | None = None


@dataclass
class _State:
    homework: dict[UUID, ev.HomeworkAssigned] = field(default_factory=dict)
    attendance: dict[UUID, tuple[str, str | None, int | None]] = field(default_factory=dict)
    remarks: set[UUID] = field(default_factory=set)


class Lesson(Aggregate):
    stream_type = "lesson"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.topic: tuple[str, str | None] | None = None
        self.state = _State()

    def set_topic(self, ref: LessonRef, teacher_id: UUID, topic: str, description: str | None) -> None:
        topic = topic.strip()
        if not topic:
            raise JournalError("the lesson topic is empty", field="lesson_topic")
        description = description.strip() if description and description.strip() else None
        if self.topic == (topic, description):
            return
        self.raise_event(
            ev.LessonTopicSet(
                **ref.facts(), teacher_id=teacher_id, lesson_topic=topic, description=description
            )
        )

    def assign_homework(self, ref: LessonRef, teacher_id: UUID, spec: HomeworkSpec) -> bool:
        """Set homework; False when the same homework was already set (a retried request)."""
        event = ev.HomeworkAssigned(**ref.facts(), teacher_id=teacher_id, **self._homework_fields(ref, spec))
        known = self.state.homework.get(spec.homework_id)
        if known is not None:
            if known.model_dump(exclude={"teacher_id"}) == event.model_dump(exclude={"teacher_id"}):
                return False
            raise JournalError("this homework id is already used; change it instead", field="homework_id")
        self.raise_event(event)
        return True

    def change_homework(self, ref: LessonRef, teacher_id: UUID, spec: HomeworkSpec) -> None:
        known = self.state.homework.get(spec.homework_id)
        if known is None:
            raise NotFound("no such homework in this lesson", field="homework_id")
        event = ev.HomeworkChanged(**ref.facts(), teacher_id=teacher_id, **self._homework_fields(ref, spec))
        if known.model_dump(exclude={"teacher_id"}) != event.model_dump(exclude={"teacher_id"}):
            self.raise_event(event)

    def remove_homework(self, ref: LessonRef, teacher_id: UUID, homework_id: UUID, reason: str) -> None:
        if homework_id not in self.state.homework:
            raise NotFound("no such homework in this lesson", field="homework_id")
        if not reason.strip():
            raise JournalError("removing homework needs a reason", field="reason")
        self.raise_event(
            ev.HomeworkRemoved(
                **ref.facts(), homework_id=homework_id, teacher_id=teacher_id, reason=reason.strip()
            )
        )

    def mark_attendance(
        self, ref: LessonRef, teacher_id: UUID, entries: list[AttendanceEntry], now: datetime
    ) -> int:
        """Record the class's attendance; only what changed becomes events. Returns how many."""
        if ref.lesson_date > now.date():
            raise JournalError("attendance cannot be marked for a lesson in the future", field="lesson_date")
        seen: set[UUID] = set()
        checked: list[AttendanceEntry] = []
        for index, entry in enumerate(entries):
            where = f"entries[{index}]"
            if entry.education_id in seen:
                raise JournalError("the same pupil is listed twice", field=f"{where}.education_id")
            seen.add(entry.education_id)
            checked.append(_checked_attendance(entry, where))
        changed = 0
        for entry in checked:
            value = (entry.status, entry.absence_reason, entry.minutes_late)
            if self.state.attendance.get(entry.education_id) == value:
                continue
            self.raise_event(
                ev.AttendanceMarked(
                    **ref.facts(),
                    education_id=entry.education_id,
                    teacher_id=teacher_id,
                    status=entry.status,
                    absence_reason=entry.absence_reason,
                    minutes_late=entry.minutes_late,
                )
            )
            changed += 1
        return changed

    def make_remark(
        self, ref: LessonRef, teacher_id: UUID, remark_id: UUID, education_id: UUID, text: str, now: datetime
    ) -> bool:
        if remark_id in self.state.remarks:
            return False
        if not text.strip():
            raise JournalError("the remark is empty", field="text")
        if ref.lesson_date > now.date():
            raise JournalError("a remark cannot be made for a lesson in the future", field="lesson_date")
        self.raise_event(
            ev.RemarkMade(
                **ref.facts(),
                remark_id=remark_id,
                education_id=education_id,
                teacher_id=teacher_id,
                text=text.strip(),
                made_at=now,
            )
        )
        return True

    @staticmethod
    def _homework_fields(ref: LessonRef, spec: HomeworkSpec) -> dict[str, object]:
        if spec.due_on < ref.lesson_date:
            raise JournalError("homework cannot be due before the lesson it is set in", field="due_on")
        if not spec.text.strip():
            raise JournalError("the homework text is empty", field="text")
        return {
            "homework_id": spec.homework_id,
            "due_on": spec.due_on,
            "kind": spec.kind,
            "text": spec.text.strip(),
            "attachments": list(spec.attachments),
        }

    def when(self, event: DomainEvent) -> None:
        match event:
            case ev.LessonTopicSet():
                self.topic = (event.lesson_topic, event.description)
            case ev.HomeworkAssigned():  # HomeworkChanged is a subclass
                self.state.homework[event.homework_id] = event
            case ev.HomeworkRemoved():
                self.state.homework.pop(event.homework_id, None)
            case ev.AttendanceMarked():
                self.state.attendance[event.education_id] = (
                    event.status,
                    event.absence_reason,
                    event.minutes_late,
                )
            case ev.RemarkMade():
                self.state.remarks.add(event.remark_id)
            case _:
                raise TypeError(f"a lesson does not take {type(event).__name__}")


def _checked_attendance(entry: AttendanceEntry, where: str) -> AttendanceEntry:
    if entry.status == "absent" and entry.absence_reason is None:
        return AttendanceEntry(entry.education_id, "absent", "unexcused", None)
    if entry.status != "absent" and entry.absence_reason is not None:
        raise JournalError("only an absence has a reason", field=f"{where}.absence_reason")
    if entry.status == "late" and entry.minutes_late is None:
        raise JournalError("lateness needs the minutes late", field=f"{where}.minutes_late")
    if entry.status != "late" and entry.minutes_late is not None:
        raise JournalError("only lateness has minutes late", field=f"{where}.minutes_late")
    return entry
