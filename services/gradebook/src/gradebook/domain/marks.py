"""A mark in the class journal: recorded once by a teacher, corrected with a reason.

Each mark is its own aggregate: two teachers never edit the same mark at once in practice, and a
small stream keeps corrections conflict-checked without locking a whole class journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from diary_events.base import DomainEvent
from diary_events.gradebook import MarkCorrected, MarkRecorded, MarkRemoved, MarkValue
from diary_kernel.aggregate import Aggregate
from gradebook.domain.errors import JournalError, NotFound


class MarkNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("no such mark", field="mark_id")


class WorkType(StrEnum):
    """Kinds of work a mark is given for; the kind sets the weight in the average."""

    ANSWER = "ответ на уроке"
    HOMEWORK = "домашняя работа"
    INDEPENDENT = "самостоятельная работа"
    PRACTICAL = "практическая работа"
    DICTATION = "диктант"
    TEST = "контрольная работа"
    TERM_TEST = "итоговая контрольная работа"

    @property
    def weight(self) -> int:
        return _WEIGHTS[self]


_WEIGHTS = {
    WorkType.ANSWER: 1,
    WorkType.HOMEWORK: 1,
    WorkType.INDEPENDENT: 2,
    WorkType.PRACTICAL: 2,
    WorkType.DICTATION: 2,
    WorkType.TEST: 3,
    WorkType.TERM_TEST: 4,
}


@dataclass(frozen=True)
class RecordMark:
    mark_id: UUID
    education_id: UUID
    subject_id: UUID
    teacher_id: UUID
    lesson_date: date
    value: MarkValue
    work_type: WorkType
    lesson_id: UUID | None = None
    lesson_number: int | None = None
    class_id: UUID | None = None
    school_id: UUID | None = None
    comment: str | None = None


@dataclass(frozen=True)
class CorrectMark:
    mark_id: UUID
    value: MarkValue
    reason: str
    corrected_by: UUID | None = None


@dataclass(frozen=True)
class RemoveMark:
    mark_id: UUID
    reason: str
    removed_by: UUID


class Mark(Aggregate):
    stream_type = "mark"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.education_id: UUID | None = None
        self.value: MarkValue | None = None
        self.recorded: MarkRecorded | None = None
        self.removed = False

    def record(self, command: RecordMark, now: datetime) -> None:
        if self.exists:
            raise JournalError("this mark is already recorded", field="mark_id")
        if command.lesson_date > now.date():
            raise JournalError("a mark cannot be put for a lesson in the future", field="lesson_date")
        self.raise_event(
            MarkRecorded(
                mark_id=command.mark_id,
                education_id=command.education_id,
                subject_id=command.subject_id,
                teacher_id=command.teacher_id,
                lesson_date=command.lesson_date,
                value=command.value,
                work_type=command.work_type.value,
                weight=command.work_type.weight,
                recorded_at=now,
                lesson_id=command.lesson_id,
                lesson_number=command.lesson_number,
                class_id=command.class_id,
                school_id=command.school_id,
                comment=command.comment.strip() if command.comment and command.comment.strip() else None,
            )
        )

    def is_same_record(self, command: RecordMark) -> bool:
        """True when `command` repeats the recording already made (a client's retry)."""
        r = self.recorded
        return r is not None and (
            r.education_id,
            r.subject_id,
            r.teacher_id,
            r.lesson_date,
            r.value,
            r.work_type,
        ) == (
            command.education_id,
            command.subject_id,
            command.teacher_id,
            command.lesson_date,
            command.value,
            command.work_type.value,
        )

    def correct(self, command: CorrectMark, now: datetime) -> None:
        if not self.exists or self.education_id is None or self.removed:
            raise MarkNotFound
        if not command.reason.strip():
            raise JournalError("a correction needs a reason", field="reason")
        if command.value == self.value:
            raise JournalError("the mark already has this value", field="value")
        self.raise_event(
            MarkCorrected(
                mark_id=command.mark_id,
                education_id=self.education_id,
                value=command.value,
                reason=command.reason.strip(),
                corrected_at=now,
                corrected_by=command.corrected_by,
            )
        )

    def remove(self, command: RemoveMark, now: datetime) -> None:
        if not self.exists or self.education_id is None or self.removed:
            raise MarkNotFound
        if not command.reason.strip():
            raise JournalError("removing a mark needs a reason", field="reason")
        self.raise_event(
            MarkRemoved(
                mark_id=command.mark_id,
                education_id=self.education_id,
                reason=command.reason.strip(),
                removed_by=command.removed_by,
                removed_at=now,
            )
        )

    def when(self, event: DomainEvent) -> None:
        match event:
            case MarkRecorded():
                self.recorded = event
                self.education_id = event.education_id
                self.value = event.value
            case MarkCorrected():
                self.value = event.value
            case MarkRemoved():
                self.removed = True
            case _:
                raise TypeError(f"a mark does not take {type(event).__name__}")
