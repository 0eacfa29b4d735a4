"""A class's timetable: the weekly lessons, and the changes made for one date.

One aggregate per class keeps the whole timetable consistent (a slot holds one lesson at a time;
only a scheduled lesson can be cancelled or substituted), and answers which lesson, subject and
teacher a dated slot has — what the journal checks before a teacher writes into a lesson.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from uuid import UUID

from diary_events import gradebook as ev
from diary_events.base import DomainEvent
from diary_kernel.aggregate import Aggregate
from gradebook.domain.errors import JournalError

MAX_LESSON_NUMBER = 12


@dataclass(frozen=True)
class SlotSpec:
    """One weekly lesson as the school's staff enter it."""

    weekday: int
    lesson_number: int
    subject_id: UUID
    teacher_id: UUID
    starts_at: time
    ends_at: time
    room: str | None = None

    @property
    def key(self) -> tuple[int, int]:
        return self.weekday, self.lesson_number


@dataclass(frozen=True)
class ScheduledLesson:
    """A dated lesson as it takes place, after the day's changes."""

    subject_id: UUID
    teacher_id: UUID
    room: str | None
    cancelled: bool
    substituted: bool
    timetable_teacher_id: UUID


def _check_slot(spec: SlotSpec, index: int | None = None) -> None:
    where = f"slots[{index}]." if index is not None else ""
    if not 1 <= spec.weekday <= 7:
        raise JournalError("weekday is 1 (Monday) to 7 (Sunday)", field=f"{where}weekday")
    if not 0 <= spec.lesson_number <= MAX_LESSON_NUMBER:
        raise JournalError(f"lesson number is 0 to {MAX_LESSON_NUMBER}", field=f"{where}lesson_number")
    if spec.ends_at <= spec.starts_at:
        raise JournalError("a lesson must end after it starts", field=f"{where}ends_at")


class ClassTimetable(Aggregate):
    stream_type = "timetable"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        # slot → [(valid_from, spec or None when cleared)], in the order they were set
        self.history: dict[tuple[int, int], list[tuple[date, SlotSpec | None]]] = {}
        self.changes: dict[tuple[date, int], ev.LessonCancelled | ev.LessonSubstituted] = {}

    def slot_on(self, weekday: int, lesson_number: int, day: date) -> SlotSpec | None:
        """The weekly lesson in a slot as valid on `day`."""
        found: tuple[date, SlotSpec | None] | None = None
        for valid_from, spec in self.history.get((weekday, lesson_number), []):
            if valid_from <= day and (found is None or valid_from >= found[0]):
                found = (valid_from, spec)
        return found[1] if found else None

    def week_on(self, day: date) -> dict[tuple[int, int], SlotSpec]:
        slots = {key: self.slot_on(*key, day) for key in self.history}
        return {key: spec for key, spec in slots.items() if spec is not None}

    def lesson_on(self, day: date, lesson_number: int) -> ScheduledLesson | None:
        spec = self.slot_on(day.isoweekday(), lesson_number, day)
        if spec is None:
            return None
        change = self.changes.get((day, lesson_number))
        if isinstance(change, ev.LessonSubstituted):
            return ScheduledLesson(
                change.subject_id, change.teacher_id, change.room or spec.room, False, True, spec.teacher_id
            )
        return ScheduledLesson(
            spec.subject_id,
            spec.teacher_id,
            spec.room,
            isinstance(change, ev.LessonCancelled),
            False,
            spec.teacher_id,
        )

    def set_week(self, class_id: UUID, school_id: UUID, valid_from: date, slots: list[SlotSpec]) -> None:
        """Replace the weekly timetable from `valid_from` on: set what differs, clear what is gone."""
        seen: set[tuple[int, int]] = set()
        for index, spec in enumerate(slots):
            _check_slot(spec, index)
            if spec.key in seen:
                raise JournalError(
                    f"two lessons in weekday {spec.weekday}, lesson {spec.lesson_number}",
                    field=f"slots[{index}]",
                )
            seen.add(spec.key)
        current = self.week_on(valid_from)
        for spec in slots:
            if current.get(spec.key) != spec:
                self._set(class_id, school_id, valid_from, spec)
        for key in current.keys() - seen:
            self._clear(class_id, school_id, valid_from, key)

    def set_slot(self, class_id: UUID, school_id: UUID, valid_from: date, spec: SlotSpec) -> None:
        _check_slot(spec)
        if self.slot_on(spec.weekday, spec.lesson_number, valid_from) != spec:
            self._set(class_id, school_id, valid_from, spec)

    def clear_slot(self, class_id: UUID, school_id: UUID, valid_from: date, key: tuple[int, int]) -> None:
        if self.slot_on(*key, valid_from) is None:
            raise JournalError("there is no lesson in this slot on that date", field="lesson_number")
        self._clear(class_id, school_id, valid_from, key)

    def cancel(self, class_id: UUID, school_id: UUID, day: date, lesson_number: int, reason: str) -> None:
        lesson = self._scheduled(day, lesson_number)
        if lesson.cancelled:
            return  # cancelling twice is the same decision
        if not reason.strip():
            raise JournalError("a cancellation needs a reason", field="reason")
        self.raise_event(
            ev.LessonCancelled(
                class_id=class_id,
                school_id=school_id,
                lesson_date=day,
                lesson_number=lesson_number,
                reason=reason.strip(),
            )
        )

    def substitute(
        self,
        class_id: UUID,
        school_id: UUID,
        day: date,
        lesson_number: int,
        *,
        teacher_id: UUID,
        subject_id: UUID | None,
        room: str | None,
        reason: str | None,
    ) -> None:
        lesson = self._scheduled(day, lesson_number)
        event = ev.LessonSubstituted(
            class_id=class_id,
            school_id=school_id,
            lesson_date=day,
            lesson_number=lesson_number,
            subject_id=subject_id or lesson.subject_id,
            teacher_id=teacher_id,
            room=room,
            reason=reason,
        )
        if self.changes.get((day, lesson_number)) != event:
            self.raise_event(event)

    def revert(self, class_id: UUID, school_id: UUID, day: date, lesson_number: int) -> None:
        if (day, lesson_number) not in self.changes:
            raise JournalError("this lesson has no change to take back", field="lesson_number")
        self.raise_event(
            ev.TimetableChangeReverted(
                class_id=class_id, school_id=school_id, lesson_date=day, lesson_number=lesson_number
            )
        )

    def _scheduled(self, day: date, lesson_number: int) -> ScheduledLesson:
        lesson = self.lesson_on(day, lesson_number)
        if lesson is None:
            raise JournalError(
                f"the timetable has no lesson {lesson_number} on {day.isoformat()}", field="lesson_number"
            )
        return lesson

    def _set(self, class_id: UUID, school_id: UUID, valid_from: date, spec: SlotSpec) -> None:
        self.raise_event(
            ev.TimetableSlotSet(
                class_id=class_id,
                school_id=school_id,
                weekday=spec.weekday,
                lesson_number=spec.lesson_number,
                valid_from=valid_from,
                subject_id=spec.subject_id,
                teacher_id=spec.teacher_id,
                room=spec.room,
                starts_at=spec.starts_at,
                ends_at=spec.ends_at,
            )
        )

    def _clear(self, class_id: UUID, school_id: UUID, valid_from: date, key: tuple[int, int]) -> None:
        self.raise_event(
            ev.TimetableSlotCleared(
                class_id=class_id,
                school_id=school_id,
                weekday=key[0],
                lesson_number=key[1],
                valid_from=valid_from,
            )
        )

    def when(self, event: DomainEvent) -> None:
        match event:
            case ev.TimetableSlotSet():
                spec = SlotSpec(
                    event.weekday,
                    event.lesson_number,
                    event.subject_id,
                    event.teacher_id,
                    event.starts_at,
                    event.ends_at,
                    event.room,
                )
                self._record((event.weekday, event.lesson_number), event.valid_from, spec)
            case ev.TimetableSlotCleared():
                self._record((event.weekday, event.lesson_number), event.valid_from, None)
            case ev.LessonCancelled() | ev.LessonSubstituted():
                self.changes[(event.lesson_date, event.lesson_number)] = event
            case ev.TimetableChangeReverted():
                self.changes.pop((event.lesson_date, event.lesson_number), None)
            case _:
                raise TypeError(f"a timetable does not take {type(event).__name__}")

    def _record(self, key: tuple[int, int], valid_from: date, spec: SlotSpec | None) -> None:
        entries = [(when, s) for when, s in self.history.get(key, []) if when != valid_from]
        entries.append((valid_from, spec))
        self.history[key] = entries
