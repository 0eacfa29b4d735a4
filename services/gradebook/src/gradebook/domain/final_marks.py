"""Final marks («итоговые отметки») per subject and period: quarter, half-year, year.

One aggregate per pupil, subject and period: setting it again replaces it, but only with a
reason, so a changed final mark always says why.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from diary_events import gradebook as ev
from diary_events.base import DomainEvent
from diary_kernel.aggregate import Aggregate
from gradebook.domain.errors import JournalError

FINAL_MARK_NAMESPACE = UUID("8b7e0a1c-2f43-4d8e-b6a9-5c3e1f2d7a40")


def final_mark_id(education_id: UUID, subject_id: UUID, period_id: UUID) -> UUID:
    return uuid.uuid5(FINAL_MARK_NAMESPACE, f"{education_id}/{subject_id}/{period_id}")


@dataclass(frozen=True)
class SetFinalMark:
    education_id: UUID
    subject_id: UUID
    period_id: UUID
    school_year_id: UUID
    school_id: UUID
    class_id: UUID
    value: ev.MarkValue
    teacher_id: UUID
    reason: str | None = None


@dataclass(frozen=True)
class PeriodDates:
    starts_on: date
    ends_on: date


class FinalMark(Aggregate):
    stream_type = "final-mark"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.value: ev.MarkValue | None = None

    def set(
        self, command: SetFinalMark, period: PeriodDates, suggested: Decimal | None, now: datetime
    ) -> bool:
        """Set the final mark; False when it already has this value (nothing to record)."""
        if now.date() < period.starts_on:
            raise JournalError("the period has not started yet", field="period_id")
        if self.value == command.value:
            return False
        reason = command.reason.strip() if command.reason and command.reason.strip() else None
        if self.exists and reason is None:
            raise JournalError("changing a final mark needs a reason", field="reason")
        self.raise_event(
            ev.FinalMarkSet(
                education_id=command.education_id,
                subject_id=command.subject_id,
                period_id=command.period_id,
                school_year_id=command.school_year_id,
                school_id=command.school_id,
                class_id=command.class_id,
                value=command.value,
                teacher_id=command.teacher_id,
                suggested_average=str(suggested) if suggested is not None else None,
                reason=reason,
                set_at=now,
            )
        )
        return True

    def when(self, event: DomainEvent) -> None:
        if not isinstance(event, ev.FinalMarkSet):
            raise TypeError(f"a final mark does not take {type(event).__name__}")
        self.value = event.value


def suggested_final_mark(average: Decimal | None) -> ev.MarkValue | None:
    """The mark a weighted average rounds to, half up (4.50 → 5), as the journal suggests it."""
    if average is None:
        return None
    rounded = int((average + Decimal("0.5")).to_integral_value(rounding="ROUND_FLOOR"))
    return str(min(5, max(1, rounded)))  # type: ignore[return-value]
