"""The journal read model: timetable, dated changes, lessons, homework, attendance, remarks.

It holds what the diary week shows besides marks. Built only from `gradebook.events.v1`; each
handler is an upsert keyed by its own aggregate, so re-applying an event changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

from diary_events.gradebook import (
    GRADEBOOK_EVENTS_TOPIC,
    AttendanceMarked,
    HomeworkAssigned,
    HomeworkRemoved,
    LessonCancelled,
    LessonSubstituted,
    LessonTopicSet,
    RemarkMade,
    TimetableChangeReverted,
    TimetableSlotCleared,
    TimetableSlotSet,
)
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope

JOURNAL_TABLES = (
    "journal_timetable_slots",
    "journal_timetable_changes",
    "journal_lessons",
    "journal_homework",
    "journal_attendance",
    "journal_remarks",
)


class JournalProjection:
    """Keeps the `journal_*` tables in step with the timetable and lesson events."""

    name = "gradebook.journal"
    topics: Sequence[str] = (GRADEBOOK_EVENTS_TOPIC,)
    tables: Sequence[str] = JOURNAL_TABLES

    async def apply(self, conn: Connection, event: Envelope) -> None:
        match event.decode():
            case TimetableSlotSet() as slot:
                await conn.execute(
                    """INSERT INTO journal_timetable_slots (class_id, weekday, lesson_number, valid_from,
                           school_id, cleared, subject_id, teacher_id, room, starts_at, ends_at)
                       VALUES ($1, $2, $3, $4, $5, false, $6, $7, $8, $9, $10)
                       ON CONFLICT (class_id, weekday, lesson_number, valid_from) DO UPDATE SET
                           school_id = EXCLUDED.school_id, cleared = false,
                           subject_id = EXCLUDED.subject_id, teacher_id = EXCLUDED.teacher_id,
                           room = EXCLUDED.room, starts_at = EXCLUDED.starts_at,
                           ends_at = EXCLUDED.ends_at""",
                    slot.class_id,
                    slot.weekday,
                    slot.lesson_number,
                    slot.valid_from,
                    slot.school_id,
                    slot.subject_id,
                    slot.teacher_id,
                    slot.room,
                    slot.starts_at,
                    slot.ends_at,
                )
            case TimetableSlotCleared() as cleared:
                await conn.execute(
                    """INSERT INTO journal_timetable_slots (class_id, weekday, lesson_number, valid_from,
                           school_id, cleared)
                       VALUES ($1, $2, $3, $4, $5, true)
                       ON CONFLICT (class_id, weekday, lesson_number, valid_from) DO UPDATE SET
                           school_id = EXCLUDED.school_id, cleared = true, subject_id = NULL,
                           teacher_id = NULL, room = NULL, starts_at = NULL, ends_at = NULL""",
                    cleared.class_id,
                    cleared.weekday,
                    cleared.lesson_number,
                    cleared.valid_from,
                    cleared.school_id,
                )
            case LessonCancelled() as cancelled:
                await self._change(
                    conn,
                    cancelled.class_id,
                    cancelled.lesson_date,
                    cancelled.lesson_number,
                    cancelled.school_id,
                    "cancellation",
                    None,
                    None,
                    None,
                    cancelled.reason,
                )
            case LessonSubstituted() as sub:
                await self._change(
                    conn,
                    sub.class_id,
                    sub.lesson_date,
                    sub.lesson_number,
                    sub.school_id,
                    "substitution",
                    sub.subject_id,
                    sub.teacher_id,
                    sub.room,
                    sub.reason,
                )
            case TimetableChangeReverted() as reverted:
                await conn.execute(
                    """DELETE FROM journal_timetable_changes
                       WHERE class_id = $1 AND lesson_date = $2 AND lesson_number = $3""",
                    reverted.class_id,
                    reverted.lesson_date,
                    reverted.lesson_number,
                )
            case LessonTopicSet() as topic:
                await conn.execute(
                    """INSERT INTO journal_lessons (lesson_id, class_id, school_id, subject_id,
                           lesson_date, lesson_number, teacher_id, lesson_topic, description)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                       ON CONFLICT (lesson_id) DO UPDATE SET subject_id = EXCLUDED.subject_id,
                           teacher_id = EXCLUDED.teacher_id, lesson_topic = EXCLUDED.lesson_topic,
                           description = EXCLUDED.description""",
                    topic.lesson_id,
                    topic.class_id,
                    topic.school_id,
                    topic.subject_id,
                    topic.lesson_date,
                    topic.lesson_number,
                    topic.teacher_id,
                    topic.lesson_topic,
                    topic.description,
                )
            case HomeworkAssigned() as homework:  # also HomeworkChanged
                # A removal is final: an edit that arrives after it does not bring homework back.
                await conn.execute(
                    """INSERT INTO journal_homework (homework_id, lesson_id, class_id, school_id,
                           subject_id, lesson_date, lesson_number, teacher_id, due_on, kind, text,
                           attachments)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                       ON CONFLICT (homework_id) DO UPDATE SET lesson_id = EXCLUDED.lesson_id,
                           class_id = EXCLUDED.class_id, subject_id = EXCLUDED.subject_id,
                           lesson_date = EXCLUDED.lesson_date,
                           lesson_number = EXCLUDED.lesson_number, teacher_id = EXCLUDED.teacher_id,
                           due_on = EXCLUDED.due_on, kind = EXCLUDED.kind, text = EXCLUDED.text,
                           attachments = EXCLUDED.attachments""",
                    homework.homework_id,
                    homework.lesson_id,
                    homework.class_id,
                    homework.school_id,
                    homework.subject_id,
                    homework.lesson_date,
                    homework.lesson_number,
                    homework.teacher_id,
                    homework.due_on,
                    homework.kind,
                    homework.text,
                    [a.model_dump(mode="json") for a in homework.attachments],
                )
            case HomeworkRemoved() as removed:
                await conn.execute(
                    """INSERT INTO journal_homework (homework_id, lesson_id, class_id, school_id,
                           subject_id, lesson_date, lesson_number, teacher_id, due_on, kind, text,
                           removed, removal_reason)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6, 'other', '', true, $9)
                       ON CONFLICT (homework_id) DO UPDATE SET removed = true,
                           removal_reason = EXCLUDED.removal_reason""",
                    removed.homework_id,
                    removed.lesson_id,
                    removed.class_id,
                    removed.school_id,
                    removed.subject_id,
                    removed.lesson_date,
                    removed.lesson_number,
                    removed.teacher_id,
                    removed.reason,
                )
            case AttendanceMarked() as marked:
                # Latest marking wins, by event time, whatever order redeliveries come in.
                await conn.execute(
                    """INSERT INTO journal_attendance (lesson_id, education_id, class_id, school_id,
                           subject_id, lesson_date, lesson_number, teacher_id, status, absence_reason,
                           minutes_late, marked_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                       ON CONFLICT (lesson_id, education_id) DO UPDATE SET
                           subject_id = EXCLUDED.subject_id, teacher_id = EXCLUDED.teacher_id,
                           status = EXCLUDED.status, absence_reason = EXCLUDED.absence_reason,
                           minutes_late = EXCLUDED.minutes_late, marked_at = EXCLUDED.marked_at
                       WHERE EXCLUDED.marked_at >= journal_attendance.marked_at""",
                    marked.lesson_id,
                    marked.education_id,
                    marked.class_id,
                    marked.school_id,
                    marked.subject_id,
                    marked.lesson_date,
                    marked.lesson_number,
                    marked.teacher_id,
                    marked.status,
                    marked.absence_reason if marked.status == "absent" else None,
                    marked.minutes_late if marked.status == "late" else None,
                    event.time,
                )
            case RemarkMade() as remark:
                await conn.execute(
                    """INSERT INTO journal_remarks (remark_id, lesson_id, education_id, class_id,
                           school_id, subject_id, lesson_date, lesson_number, teacher_id, text, made_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                       ON CONFLICT (remark_id) DO NOTHING""",
                    remark.remark_id,
                    remark.lesson_id,
                    remark.education_id,
                    remark.class_id,
                    remark.school_id,
                    remark.subject_id,
                    remark.lesson_date,
                    remark.lesson_number,
                    remark.teacher_id,
                    remark.text,
                    remark.made_at,
                )
            case _:
                return  # other gradebook events feed other read models

    @staticmethod
    async def _change(
        conn: Connection,
        class_id: UUID,
        lesson_date: date,
        lesson_number: int,
        school_id: UUID,
        kind: str,
        subject_id: UUID | None,
        teacher_id: UUID | None,
        room: str | None,
        reason: str | None,
    ) -> None:
        await conn.execute(
            """INSERT INTO journal_timetable_changes (class_id, lesson_date, lesson_number, school_id,
                   kind, subject_id, teacher_id, room, reason)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (class_id, lesson_date, lesson_number) DO UPDATE SET
                   school_id = EXCLUDED.school_id, kind = EXCLUDED.kind,
                   subject_id = EXCLUDED.subject_id, teacher_id = EXCLUDED.teacher_id,
                   room = EXCLUDED.room, reason = EXCLUDED.reason""",
            class_id,
            lesson_date,
            lesson_number,
            school_id,
            kind,
            subject_id,
            teacher_id,
            room,
            reason,
        )
