"""State exam results (ОГЭ / ЕГЭ) mirrored from the regional exam centre.

The exam centre publishes the current state of a result with a revision; an appeal that changes
a score arrives as a newer revision and is re-published, anything already seen is ignored.
"""

from __future__ import annotations

from uuid import UUID

from diary_events import gradebook as ev
from diary_events.base import DomainEvent
from diary_events.exams import ExamResultRecord
from diary_kernel.aggregate import Aggregate


class ExamResult(Aggregate):
    stream_type = "exam-result"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.published: ev.ExamResultPublished | None = None

    def sync(self, record: ExamResultRecord, education_id: UUID | None) -> None:
        published = ev.ExamResultPublished(
            result_id=record.result_id,
            pupil_id=record.pupil_id,
            education_id=education_id,
            school_id=record.school_id,
            exam=record.exam,
            subject_name=record.subject_name,
            exam_date=record.exam_date,
            primary_score=record.primary_score,
            max_primary_score=record.max_primary_score,
            test_score=record.test_score,
            mark=record.mark,
            status=record.status,
        )
        if published != self.published:
            self.raise_event(published)

    def when(self, event: DomainEvent) -> None:
        if not isinstance(event, ev.ExamResultPublished):
            raise TypeError(f"an exam result does not take {type(event).__name__}")
        self.published = event
