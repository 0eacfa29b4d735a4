"""Events on `gradebook.events.v1`: what a teacher recorded in the class journal.

Payloads carry ids, never pupils' names (personal data of minors stays in the roster).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from diary_events.base import DomainEvent

GRADEBOOK_EVENTS_TOPIC = "gradebook.events.v1"

MarkValue = Literal["5", "4", "3", "2", "1", "зачёт", "незачёт", "н/а"]
"""A mark as the journal shows it: the five-point scale, pass/fail, or «н/а» (not assessed)."""


class GradebookEvent(DomainEvent):
    topic: ClassVar[str] = GRADEBOOK_EVENTS_TOPIC


class MarkRecorded(GradebookEvent):
    """A teacher put a mark for a pupil's work in a lesson."""

    event_type: ClassVar[str] = "diary.gradebook.MarkRecorded.v1"

    mark_id: UUID
    education_id: UUID = Field(description="The pupil's enrolment in a school: key of a diary.")
    subject_id: UUID
    teacher_id: UUID
    lesson_date: date
    value: MarkValue
    work_type: str = Field(description="Kind of work, e.g. «контрольная»; it sets the weight.")
    weight: int = Field(ge=1, le=10, description="Weight of the mark in the weighted average.")
    recorded_at: datetime


class MarkCorrected(GradebookEvent):
    """A teacher changed a mark already recorded (a typo, a retake)."""

    event_type: ClassVar[str] = "diary.gradebook.MarkCorrected.v1"

    mark_id: UUID
    education_id: UUID
    value: MarkValue
    reason: str = Field(max_length=500)
    corrected_at: datetime
