"""Command handlers of the class journal: timetable, lessons, marks, final marks.

Each handler opens a unit of work, gathers the facts the decision needs (the class and its school,
the pupil's class on the date, the teacher's assignments — from the roster read model; the dated
lesson — from the class's timetable aggregate), checks who may act, lets the aggregate decide and
saves its events, which commit together with their outbox rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from diary_events.gradebook import MarkValue
from diary_kernel.aggregate import A
from diary_kernel.db import Connection
from diary_kernel.eventstore import ConcurrencyError
from diary_kernel.uow import BoundRepository, UnitOfWork
from gradebook.domain import access
from gradebook.domain.access import Actor
from gradebook.domain.errors import JournalError, NotFound
from gradebook.domain.final_marks import FinalMark, PeriodDates, SetFinalMark, final_mark_id
from gradebook.domain.lessons import AttendanceEntry, HomeworkSpec, Lesson, LessonRef
from gradebook.domain.marks import CorrectMark, Mark, RecordMark, RemoveMark, WorkType
from gradebook.domain.timetable import ClassTimetable, SlotSpec

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ClassFacts:
    class_id: UUID
    school_id: UUID
    school_year_id: UUID
    form_teacher_id: UUID | None
    closed: bool


@dataclass(frozen=True)
class EducationFacts:
    education_id: UUID
    school_id: UUID
    class_id: UUID
    active: bool


@dataclass(frozen=True)
class PeriodFacts:
    period_id: UUID
    school_year_id: UUID
    school_id: UUID
    starts_on: date
    ends_on: date


class Roster(Protocol):
    """What the journal needs to know about the roster (a read model of the gradebook's events)."""

    async def class_facts(self, class_id: UUID) -> ClassFacts | None: ...
    async def education_facts(self, education_id: UUID, on: date) -> EducationFacts | None: ...
    async def is_assigned(self, teacher_id: UUID, class_id: UUID, subject_id: UUID) -> bool: ...
    async def teaches_class(self, teacher_id: UUID, class_id: UUID) -> bool: ...
    async def period_facts(self, period_id: UUID) -> PeriodFacts | None: ...
    async def weighted_average(
        self, education_id: UUID, subject_id: UUID, date_from: date, date_to: date
    ) -> Decimal | None: ...


RosterFactory = Callable[[Connection], Roster]


@dataclass(frozen=True)
class Outcome:
    version: int
    created: bool = True


class Journal:
    """The journal's command side, bound to a pool-backed unit of work per command."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], roster: RosterFactory, clock: Clock = utc_now):
        self._uow = uow_factory
        self._roster = roster
        self._clock = clock

    # --- timetable (school staff) ----------------------------------------------------------

    async def set_timetable(
        self, actor: Actor, class_id: UUID, valid_from: date, slots: list[SlotSpec]
    ) -> Outcome:
        return await self._change_timetable(
            actor,
            class_id,
            lambda timetable, school_id: timetable.set_week(class_id, school_id, valid_from, slots),
            slots=[(spec, f"slots[{index}]") for index, spec in enumerate(slots)],
        )

    async def set_slot(self, actor: Actor, class_id: UUID, valid_from: date, spec: SlotSpec) -> Outcome:
        return await self._change_timetable(
            actor,
            class_id,
            lambda timetable, school_id: timetable.set_slot(class_id, school_id, valid_from, spec),
            slots=[(spec, "")],
        )

    async def clear_slot(
        self, actor: Actor, class_id: UUID, valid_from: date, weekday: int, lesson_number: int
    ) -> Outcome:
        return await self._change_timetable(
            actor,
            class_id,
            lambda timetable, school_id: timetable.clear_slot(
                class_id, school_id, valid_from, (weekday, lesson_number)
            ),
        )

    async def cancel_lesson(
        self, actor: Actor, class_id: UUID, day: date, lesson_number: int, reason: str
    ) -> Outcome:
        return await self._change_timetable(
            actor,
            class_id,
            lambda timetable, school_id: timetable.cancel(class_id, school_id, day, lesson_number, reason),
        )

    async def substitute_lesson(
        self,
        actor: Actor,
        class_id: UUID,
        day: date,
        lesson_number: int,
        *,
        teacher_id: UUID,
        subject_id: UUID | None,
        room: str | None,
        reason: str | None,
    ) -> Outcome:
        return await self._change_timetable(
            actor,
            class_id,
            lambda timetable, school_id: timetable.substitute(
                class_id,
                school_id,
                day,
                lesson_number,
                teacher_id=teacher_id,
                subject_id=subject_id,
                room=room,
                reason=reason,
            ),
        )

    async def revert_change(self, actor: Actor, class_id: UUID, day: date, lesson_number: int) -> Outcome:
        return await self._change_timetable(
            actor,
            class_id,
            lambda timetable, school_id: timetable.revert(class_id, school_id, day, lesson_number),
        )

    async def _change_timetable(
        self,
        actor: Actor,
        class_id: UUID,
        change: Callable[[ClassTimetable, UUID], object],
        *,
        slots: list[tuple[SlotSpec, str]] | None = None,
    ) -> Outcome:
        """The school's staff change a class's timetable; each slot's teacher must teach its subject."""
        async with self._uow() as uow:
            school_class = await self._class(uow, actor, class_id)
            access.require_timetable_keeper(actor, school_class.school_id)
            for spec, where in slots or []:
                await self._teacher_of_class(uow, spec, class_id, where)
            timetables = uow.repository(ClassTimetable)
            timetable = await timetables.get(str(class_id))
            change(timetable, school_class.school_id)
            return await self._save(timetables, timetable, class_id)

    # --- lessons (the teacher of the lesson) ------------------------------------------------

    async def set_topic(
        self,
        actor: Actor,
        at: LessonAt,
        topic: str,
        description: str | None,
    ) -> Outcome:
        async with self._uow() as uow:
            ref = await self._lesson_for_teacher(uow, actor, at)
            return await self._change_lesson(
                uow, ref, lambda lesson: lesson.set_topic(ref, actor.actor_id, topic, description)
            )

    async def assign_homework(self, actor: Actor, at: LessonAt, spec: HomeworkSpec) -> Outcome:
        async with self._uow() as uow:
            ref = await self._lesson_for_teacher(uow, actor, at)
            lessons = uow.repository(Lesson)
            lesson = await lessons.get(str(ref.lesson_id))
            created = lesson.assign_homework(ref, actor.actor_id, spec)
            outcome = await self._save(lessons, lesson, ref.class_id)
            return Outcome(outcome.version, created)

    async def change_homework(self, actor: Actor, at: LessonAt, spec: HomeworkSpec) -> Outcome:
        async with self._uow() as uow:
            ref = await self._lesson_for_teacher(uow, actor, at)
            return await self._change_lesson(
                uow, ref, lambda lesson: lesson.change_homework(ref, actor.actor_id, spec)
            )

    async def remove_homework(self, actor: Actor, at: LessonAt, homework_id: UUID, reason: str) -> Outcome:
        async with self._uow() as uow:
            ref = await self._lesson_for_teacher(uow, actor, at)
            return await self._change_lesson(
                uow, ref, lambda lesson: lesson.remove_homework(ref, actor.actor_id, homework_id, reason)
            )

    async def mark_attendance(self, actor: Actor, at: LessonAt, entries: list[AttendanceEntry]) -> Outcome:
        async with self._uow() as uow:
            ref = await self._lesson_for_teacher(uow, actor, at)
            roster = self._roster(uow.conn)
            for index, entry in enumerate(entries):
                await self._pupil_of_class(roster, entry.education_id, ref, f"entries[{index}].education_id")
            now = self._clock()
            return await self._change_lesson(
                uow, ref, lambda lesson: lesson.mark_attendance(ref, actor.actor_id, entries, now)
            )

    async def make_remark(
        self, actor: Actor, at: LessonAt, remark_id: UUID, education_id: UUID, text: str
    ) -> Outcome:
        async with self._uow() as uow:
            ref = await self._lesson_for_teacher(uow, actor, at)
            await self._pupil_of_class(self._roster(uow.conn), education_id, ref, "education_id")
            lessons = uow.repository(Lesson)
            lesson = await lessons.get(str(ref.lesson_id))
            created = lesson.make_remark(ref, actor.actor_id, remark_id, education_id, text, self._clock())
            outcome = await self._save(lessons, lesson, ref.class_id)
            return Outcome(outcome.version, created)

    # --- marks --------------------------------------------------------------------------------

    async def record_mark(
        self,
        actor: Actor,
        *,
        mark_id: UUID,
        education_id: UUID,
        subject_id: UUID,
        lesson_date: date,
        lesson_number: int | None,
        value: MarkValue,
        work_type: WorkType,
        comment: str | None,
    ) -> Outcome:
        """Record a mark; repeating the same recording (a retried request) is not an error."""
        async with self._uow() as uow:
            roster = self._roster(uow.conn)
            education = await self._education(roster, actor, education_id, lesson_date)
            lesson_id = None
            teaches_lesson = False
            if lesson_number is not None:
                at = LessonAt(education.class_id, lesson_date, lesson_number, subject_id)
                ref, teacher_on_lesson = await self._lesson(uow, actor, at)
                lesson_id, teaches_lesson = ref.lesson_id, teacher_on_lesson == actor.actor_id
            access.require_journal_keeper(
                actor,
                education.school_id,
                teaches_subject=await roster.is_assigned(actor.actor_id, education.class_id, subject_id),
                teaches_lesson=teaches_lesson,
            )
            command = RecordMark(
                mark_id=mark_id,
                education_id=education_id,
                subject_id=subject_id,
                teacher_id=actor.actor_id,
                lesson_date=lesson_date,
                value=value,
                work_type=work_type,
                lesson_id=lesson_id,
                lesson_number=lesson_number,
                class_id=education.class_id,
                school_id=education.school_id,
                comment=comment,
            )
            marks = uow.repository(Mark)
            mark = await marks.get(str(mark_id))
            if mark.exists and mark.is_same_record(command):
                return Outcome(mark.version, created=False)
            mark.record(command, self._clock())
            return await self._save(marks, mark, education_id)

    async def correct_mark(
        self, actor: Actor, mark_id: UUID, value: MarkValue, reason: str, *, expected_version: int | None
    ) -> Outcome:
        async with self._uow() as uow:
            marks = uow.repository(Mark)
            mark = await marks.get(str(mark_id))
            await self._may_change_mark(uow, actor, mark)
            if expected_version is not None and mark.version != expected_version:
                raise ConcurrencyError(marks.stream_id(mark.id), expected_version, mark.version)
            mark.correct(CorrectMark(mark_id, value, reason, corrected_by=actor.actor_id), self._clock())
            return await self._save(marks, mark, mark.education_id)

    async def remove_mark(
        self, actor: Actor, mark_id: UUID, reason: str, *, expected_version: int | None
    ) -> Outcome:
        async with self._uow() as uow:
            marks = uow.repository(Mark)
            mark = await marks.get(str(mark_id))
            await self._may_change_mark(uow, actor, mark)
            if expected_version is not None and mark.version != expected_version:
                raise ConcurrencyError(marks.stream_id(mark.id), expected_version, mark.version)
            mark.remove(RemoveMark(mark_id, reason, removed_by=actor.actor_id), self._clock())
            return await self._save(marks, mark, mark.education_id)

    async def set_final_mark(
        self,
        actor: Actor,
        *,
        education_id: UUID,
        subject_id: UUID,
        period_id: UUID,
        value: MarkValue,
        reason: str | None,
    ) -> tuple[Outcome, Decimal | None]:
        """Set a final mark; returns the outcome and the weighted average offered as suggestion."""
        async with self._uow() as uow:
            roster = self._roster(uow.conn)
            period = await roster.period_facts(period_id)
            if period is None or period.school_id != actor.school_id:
                raise NotFound("no such period", field="period_id")
            education = await self._education(roster, actor, education_id, min(period.ends_on, self._today()))
            if education.school_id != period.school_id:
                raise NotFound("no such period", field="period_id")
            access.require_journal_keeper(
                actor,
                education.school_id,
                teaches_subject=await roster.is_assigned(actor.actor_id, education.class_id, subject_id),
            )
            suggested = await roster.weighted_average(
                education_id, subject_id, period.starts_on, period.ends_on
            )
            final_marks = uow.repository(FinalMark)
            final = await final_marks.get(str(final_mark_id(education_id, subject_id, period_id)))
            command = SetFinalMark(
                education_id=education_id,
                subject_id=subject_id,
                period_id=period_id,
                school_year_id=period.school_year_id,
                school_id=education.school_id,
                class_id=education.class_id,
                value=value,
                teacher_id=actor.actor_id,
                reason=reason,
            )
            created = final.set(
                command, PeriodDates(period.starts_on, period.ends_on), suggested, self._clock()
            )
            outcome = await self._save(final_marks, final, education_id)
            return Outcome(outcome.version, created), suggested

    # --- facts and checks -----------------------------------------------------------------------

    def _today(self) -> date:
        return self._clock().date()

    async def _class(self, uow: UnitOfWork, actor: Actor, class_id: UUID) -> ClassFacts:
        """An open class of the actor's school; another school's class does not exist for them."""
        school_class = await self._roster(uow.conn).class_facts(class_id)
        access.require_same_school(
            actor, school_class.school_id if school_class else None, "class", "class_id"
        )
        assert school_class is not None
        if school_class.closed:
            raise JournalError("the class is closed", field="class_id")
        return school_class

    async def _teacher_of_class(self, uow: UnitOfWork, spec: SlotSpec, class_id: UUID, where: str) -> None:
        prefix = f"{where}." if where else ""
        if not await self._roster(uow.conn).is_assigned(spec.teacher_id, class_id, spec.subject_id):
            raise JournalError(
                "the teacher is not assigned to teach this subject in this class",
                field=f"{prefix}teacher_id",
            )

    async def _lesson(self, uow: UnitOfWork, actor: Actor, at: LessonAt) -> tuple[LessonRef, UUID]:
        """The dated lesson from the timetable, and the teacher who teaches it that day."""
        school_class = await self._class(uow, actor, at.class_id)
        timetable = await uow.repository(ClassTimetable).get(str(at.class_id))
        scheduled = timetable.lesson_on(at.lesson_date, at.lesson_number)
        if scheduled is None:
            raise JournalError(
                f"the timetable has no lesson {at.lesson_number} on {at.lesson_date.isoformat()}",
                field="lesson_number",
            )
        if scheduled.cancelled:
            raise JournalError("this lesson was cancelled", field="lesson_number")
        if at.subject_id is not None and at.subject_id != scheduled.subject_id:
            raise JournalError("the timetable has another subject in this lesson", field="subject_id")
        ref = LessonRef(
            at.class_id, school_class.school_id, scheduled.subject_id, at.lesson_date, at.lesson_number
        )
        return ref, scheduled.teacher_id

    async def _lesson_for_teacher(self, uow: UnitOfWork, actor: Actor, at: LessonAt) -> LessonRef:
        ref, teacher_on_lesson = await self._lesson(uow, actor, at)
        access.require_journal_keeper(
            actor,
            ref.school_id,
            teaches_subject=await self._roster(uow.conn).is_assigned(
                actor.actor_id, at.class_id, ref.subject_id
            ),
            teaches_lesson=teacher_on_lesson == actor.actor_id,
        )
        return ref

    async def _education(self, roster: Roster, actor: Actor, education_id: UUID, on: date) -> EducationFacts:
        education = await roster.education_facts(education_id, on)
        if education is None or education.school_id != actor.school_id:
            raise NotFound("no such pupil", field="education_id")
        return education

    async def _pupil_of_class(self, roster: Roster, education_id: UUID, ref: LessonRef, field: str) -> None:
        education = await roster.education_facts(education_id, ref.lesson_date)
        if education is None or not education.active or education.class_id != ref.class_id:
            raise JournalError("not a pupil of this class on the lesson's date", field=field)

    async def _may_change_mark(self, uow: UnitOfWork, actor: Actor, mark: Mark) -> None:
        recorded = mark.recorded
        if recorded is None or mark.removed:
            raise NotFound("no such mark", field="mark_id")
        roster = self._roster(uow.conn)
        education = await roster.education_facts(recorded.education_id, recorded.lesson_date)
        if education is None or education.school_id != actor.school_id:
            raise NotFound("no such mark", field="mark_id")
        access.require_journal_keeper(
            actor,
            education.school_id,
            teaches_subject=recorded.teacher_id == actor.actor_id
            or await roster.is_assigned(actor.actor_id, education.class_id, recorded.subject_id),
        )

    async def _change_lesson(
        self, uow: UnitOfWork, ref: LessonRef, change: Callable[[Lesson], object]
    ) -> Outcome:
        lessons = uow.repository(Lesson)
        lesson = await lessons.get(str(ref.lesson_id))
        change(lesson)
        return await self._save(lessons, lesson, ref.class_id)

    @staticmethod
    async def _save(repository: BoundRepository[A], aggregate: A, subject: UUID | None) -> Outcome:
        if not aggregate.pending:
            return Outcome(aggregate.version, created=False)
        version = await repository.save(aggregate, subject=str(subject) if subject else None)
        return Outcome(version, created=True)


@dataclass(frozen=True)
class LessonAt:
    """How a teacher addresses a lesson: class, date, number in the day (and the subject, to check)."""

    class_id: UUID
    lesson_date: date
    lesson_number: int
    subject_id: UUID | None = None
