"""The diary's marks read model: the projection that builds it and the queries that read it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from diary_events.gradebook import GRADEBOOK_EVENTS_TOPIC, MarkCorrected, MarkRecorded
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope
from diary_kernel.projector import RejectedEvent

NUMERIC_MARKS = {"5", "4", "3", "2", "1"}


class DiaryMarksProjection:
    """Keeps `diary_marks` in step with the gradebook's events."""

    name = "gradebook.diary-marks"
    topics: Sequence[str] = (GRADEBOOK_EVENTS_TOPIC,)
    tables: Sequence[str] = ("diary_marks",)

    async def apply(self, conn: Connection, event: Envelope) -> None:
        match event.decode():
            case MarkRecorded() as recorded:
                await conn.execute(
                    """INSERT INTO diary_marks (mark_id, education_id, subject_id, teacher_id,
                           lesson_date, value, work_type, weight, version, recorded_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9)
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
                )
            case MarkCorrected() as corrected:
                updated = await conn.fetchval(
                    """UPDATE diary_marks SET value = $2, correction_reason = $3, corrected_at = $4,
                           version = version + 1, projected_at = clock_timestamp()
                       WHERE mark_id = $1 RETURNING mark_id""",
                    corrected.mark_id,
                    corrected.value,
                    corrected.reason,
                    corrected.corrected_at,
                )
                if updated is None:
                    raise RejectedEvent(f"correction of unknown mark {corrected.mark_id}")
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
            WHERE education_id = $1
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
