"""The diary's marks read model: marks, final marks and exam results, and the queries on marks.

A removed mark keeps its row (with who removed it and why) but leaves every diary view and
average. Final marks and exam results keep only the latest version, by the time it was set, so
the outcome does not depend on the order redeliveries arrive in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from diary_events.gradebook import (
    GRADEBOOK_EVENTS_TOPIC,
    ExamResultPublished,
    FinalMarkSet,
    MarkCorrected,
    MarkRecorded,
    MarkRemoved,
)
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope
from diary_kernel.projector import RejectedEvent

NUMERIC_MARKS = {"5", "4", "3", "2", "1"}


class DiaryMarksProjection:
    """Keeps `diary_marks` in step with the gradebook's events."""

    name = "gradebook.diary-marks"
    topics: Sequence[str] = (GRADEBOOK_EVENTS_TOPIC,)
    tables: Sequence[str] = ("diary_marks", "diary_final_marks", "diary_exam_results")

    async def apply(self, conn: Connection, event: Envelope) -> None:
        match event.decode():
            case MarkRecorded() as recorded:
                await conn.execute(
                    """INSERT INTO diary_marks (mark_id, education_id, subject_id, teacher_id,
                           lesson_date, value, work_type, weight, version, recorded_at, lesson_id,
                           lesson_number, class_id, school_id, comment)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11, $12, $13, $14)
                       ON CONFLICT (mark_id) DO NOTHING""",
                    recorded.mark_id,
                    recorded.education_id,
                    recorded.subject_id,
                    recorded.teacher_id,
                    recorded.lesson_date,
                    recorded.value,
                    recorded.work_type,
                    recorded.weight,
                    recorded.recorded_at,
                    recorded.lesson_id,
                    recorded.lesson_number,
                    recorded.class_id,
                    recorded.school_id,
                    recorded.comment,
                )
            case MarkCorrected() as corrected:
                updated = await conn.fetchval(
                    """UPDATE diary_marks SET value = $2, correction_reason = $3, corrected_at = $4,
                           corrected_by = $5, version = version + 1, projected_at = clock_timestamp()
                       WHERE mark_id = $1 RETURNING mark_id""",
                    corrected.mark_id,
                    corrected.value,
                    corrected.reason,
                    corrected.corrected_at,
                    corrected.corrected_by,
                )
                if updated is None:
                    raise RejectedEvent(f"correction of unknown mark {corrected.mark_id}")
            case MarkRemoved() as removed:
                known = await conn.fetchval(
                    """UPDATE diary_marks SET removed_at = coalesce(removed_at, $2),
                           removal_reason = coalesce(removal_reason, $3),
                           removed_by = coalesce(removed_by, $4), projected_at = clock_timestamp()
                       WHERE mark_id = $1 RETURNING mark_id""",
                    removed.mark_id,
                    removed.removed_at,
                    removed.reason,
                    removed.removed_by,
                )
                if known is None:
                    raise RejectedEvent(f"removal of unknown mark {removed.mark_id}")
            case FinalMarkSet() as final:
                await conn.execute(
                    """INSERT INTO diary_final_marks (education_id, subject_id, period_id,
                           school_year_id, school_id, class_id, value, teacher_id, suggested_average,
                           reason, set_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                       ON CONFLICT (education_id, subject_id, period_id) DO UPDATE SET
                           school_year_id = EXCLUDED.school_year_id, school_id = EXCLUDED.school_id,
                           class_id = EXCLUDED.class_id, value = EXCLUDED.value,
                           teacher_id = EXCLUDED.teacher_id,
                           suggested_average = EXCLUDED.suggested_average, reason = EXCLUDED.reason,
                           set_at = EXCLUDED.set_at
                       WHERE EXCLUDED.set_at >= diary_final_marks.set_at""",
                    final.education_id,
                    final.subject_id,
                    final.period_id,
                    final.school_year_id,
                    final.school_id,
                    final.class_id,
                    final.value,
                    final.teacher_id,
                    final.suggested_average,
                    final.reason,
                    final.set_at,
                )
            case ExamResultPublished() as result:
                await conn.execute(
                    """INSERT INTO diary_exam_results (result_id, pupil_id, education_id, school_id,
                           exam, subject_name, exam_date, primary_score, max_primary_score,
                           test_score, mark, status, published_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                       ON CONFLICT (result_id) DO UPDATE SET pupil_id = EXCLUDED.pupil_id,
                           education_id = EXCLUDED.education_id, school_id = EXCLUDED.school_id,
                           exam = EXCLUDED.exam, subject_name = EXCLUDED.subject_name,
                           exam_date = EXCLUDED.exam_date, primary_score = EXCLUDED.primary_score,
                           max_primary_score = EXCLUDED.max_primary_score,
                           test_score = EXCLUDED.test_score, mark = EXCLUDED.mark,
                           status = EXCLUDED.status, published_at = EXCLUDED.published_at
                       WHERE EXCLUDED.published_at >= diary_exam_results.published_at""",
                    result.result_id,
                    result.pupil_id,
                    result.education_id,
                    result.school_id,
                    result.exam,
                    result.subject_name,
                    result.exam_date,
                    result.primary_score,
                    result.max_primary_score,
                    result.test_score,
                    result.mark,
                    result.status,
                    event.time,
                )
            case _:
                return  # other gradebook events feed other read models


@dataclass(frozen=True)
class SubjectAverage:
    subject_id: UUID
    weighted_average: Decimal | None
    marks: int


async def mark_by_id(conn: Connection, mark_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_MARK_COLUMNS} FROM diary_marks WHERE mark_id = $1", mark_id)
    return dict(row) if row else None


async def pupil_marks(
    conn: Connection,
    education_id: UUID,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    subject_id: UUID | None = None,
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {_MARK_COLUMNS} FROM diary_marks
            WHERE education_id = $1 AND removed_at IS NULL
              AND ($2::date IS NULL OR lesson_date >= $2)
              AND ($3::date IS NULL OR lesson_date <= $3)
              AND ($4::uuid IS NULL OR subject_id = $4)
            ORDER BY lesson_date, recorded_at""",
        education_id,
        date_from,
        date_to,
        subject_id,
    )
    return [dict(row) for row in rows]


def subject_averages(marks: Sequence[dict[str, Any]]) -> list[SubjectAverage]:
    """Weighted average per subject over numeric marks («зачёт» and «н/а» do not count)."""
    sums: dict[UUID, tuple[int, int, int]] = {}
    for mark in marks:
        total, weights, count = sums.get(mark["subject_id"], (0, 0, 0))
        if mark["value"] in NUMERIC_MARKS:
            total += int(mark["value"]) * mark["weight"]
            weights += mark["weight"]
        sums[mark["subject_id"]] = (total, weights, count + 1)
    return [
        SubjectAverage(
            subject_id=subject,
            weighted_average=(Decimal(total) / Decimal(weights)).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
            if weights
            else None,
            marks=count,
        )
        for subject, (total, weights, count) in sums.items()
    ]


_MARK_COLUMNS = (
    "mark_id, education_id, subject_id, teacher_id, lesson_date, value, work_type, weight, version, "
    "recorded_at, corrected_at, correction_reason"
)
