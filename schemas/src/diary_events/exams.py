"""Messages on `integration.exams.results.v1`: state exam results from the regional exam centre.

The regional exam centre (РЦОИ) publishes each result of ОГЭ (grade 9) or ЕГЭ (grade 11) as the
current state of one result with a growing `revision`: an appeal that changes the score is a new
revision of the same `result_id`. Results are informative in the diary. Key: the pupil id.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field, model_validator

from diary_events.base import DomainEvent

EXAM_RESULTS_TOPIC = "integration.exams.results.v1"

ExamKind = Literal["ОГЭ", "ЕГЭ"]
ExamResultStatus = Literal["published", "appealed", "revised", "annulled"]


class ExamResultRecord(DomainEvent):
    """One pupil's result in one state exam."""

    topic: ClassVar[str] = EXAM_RESULTS_TOPIC
    event_type: ClassVar[str] = "diary.exams.ExamResult.v1"
    key_description: ClassVar[str] = "pupil_id"

    result_id: UUID
    revision: int = Field(ge=1)
    pupil_id: UUID
    school_id: UUID = Field(description="The school the pupil sat the exam from.")
    exam: ExamKind
    subject_name: str = Field(min_length=1, max_length=200, examples=["Математика (профильная)"])
    exam_date: date
    primary_score: int = Field(ge=0, le=200)
    max_primary_score: int = Field(ge=1, le=200)
    test_score: int | None = Field(default=None, ge=0, le=100, description="ЕГЭ: the 100-point score.")
    mark: int | None = Field(default=None, ge=2, le=5, description="ОГЭ: the five-point mark.")
    status: ExamResultStatus = "published"

    @model_validator(mode="after")
    def _consistent(self) -> ExamResultRecord:
        if self.primary_score > self.max_primary_score:
            raise ValueError("primary_score exceeds max_primary_score")
        if self.exam == "ЕГЭ" and self.test_score is None and self.status != "annulled":
            raise ValueError("an ЕГЭ result needs test_score")
        if self.exam == "ОГЭ" and self.mark is None and self.status != "annulled":
            raise ValueError("an ОГЭ result needs mark")
        return self
