"""Decisions of the roster, timetable, lesson and final-mark aggregates, and of the access policy."""

from datetime import UTC, date, datetime, time
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from diary_events import gradebook as ev
from diary_events.registry import EnrolmentRecord, TeachingAssignmentRecord
from gradebook.domain import access
from gradebook.domain.access import Actor, Role
from gradebook.domain.errors import Forbidden, JournalError, NotFound
from gradebook.domain.final_marks import FinalMark, PeriodDates, SetFinalMark, suggested_final_mark
from gradebook.domain.lessons import AttendanceEntry, Lesson, LessonRef, lesson_id_for
from gradebook.domain.roster import Education, RosterError, TeachingAssignment
from gradebook.domain.timetable import ClassTimetable, SlotSpec

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SCHOOL, CLASS_A, CLASS_B = uuid4(), uuid4(), uuid4()
MATHS, RUSSIAN, PETROVA, SMIRNOV = uuid4(), uuid4(), uuid4(), uuid4()


def kinds(aggregate: object) -> list[str]:
    return [type(e).__name__ for e in aggregate.pending]  # type: ignore[attr-defined]


def enrolment(**changes: object) -> EnrolmentRecord:
    base = {
        "school_id": SCHOOL,
        "revision": 1,
        "education_id": uuid4(),
        "pupil_id": uuid4(),
        "class_id": CLASS_A,
        "enrolled_on": date(2026, 9, 1),
    }
    return EnrolmentRecord.model_validate(base | changes)


def test_an_enrolment_re_sent_unchanged_raises_nothing_and_a_class_change_is_a_transfer() -> None:
    record = enrolment()
    education = Education(str(record.education_id))
    education.sync(record)
    assert kinds(education) == ["PupilEnrolled"]
    education.sync(record)
    assert kinds(education) == ["PupilEnrolled"]
    education.sync(record.model_copy(update={"class_id": CLASS_B, "class_since": date(2026, 10, 5)}))
    assert kinds(education) == ["PupilEnrolled", "PupilTransferred"]
    assert education.class_on(date(2026, 10, 4)) == CLASS_A
    assert education.class_on(date(2026, 10, 5)) == CLASS_B
    education.sync(record.model_copy(update={"class_id": CLASS_B, "left_on": date(2026, 11, 1)}))
    assert kinds(education)[-1] == "PupilLeftSchool"
    assert not education.active
    with pytest.raises(RosterError, match="new enrolment"):
        education.sync(record.model_copy(update={"class_id": CLASS_B}))


def test_an_assignment_moved_to_another_class_ends_the_old_one() -> None:
    record = TeachingAssignmentRecord(
        school_id=SCHOOL,
        revision=1,
        assignment_id=uuid4(),
        teacher_id=PETROVA,
        class_id=CLASS_A,
        subject_id=MATHS,
    )
    assignment = TeachingAssignment(str(record.assignment_id))
    assignment.sync(record)
    assignment.sync(record.model_copy(update={"class_id": CLASS_B}))
    assignment.sync(record.model_copy(update={"class_id": CLASS_B, "active": False}))
    assert kinds(assignment) == [
        "TeacherAssigned",
        "TeacherUnassigned",
        "TeacherAssigned",
        "TeacherUnassigned",
    ]
    assert assignment.current is None


def slot(weekday: int, number: int, subject: UUID = MATHS, teacher: UUID = PETROVA) -> SlotSpec:
    return SlotSpec(weekday, number, subject, teacher, time(9 + number), time(9 + number, 45), "21")


def test_a_new_weekly_timetable_records_only_what_differs() -> None:
    timetable = ClassTimetable(str(CLASS_A))
    timetable.set_week(CLASS_A, SCHOOL, date(2026, 9, 1), [slot(1, 1), slot(1, 2, RUSSIAN, SMIRNOV)])
    assert kinds(timetable) == ["TimetableSlotSet", "TimetableSlotSet"]
    timetable.pending.clear()
    timetable.set_week(CLASS_A, SCHOOL, date(2026, 11, 2), [slot(1, 1), slot(2, 1)])
    assert kinds(timetable) == ["TimetableSlotSet", "TimetableSlotCleared"]
    monday_before, monday_after = date(2026, 10, 26), date(2026, 11, 2)
    assert timetable.lesson_on(monday_before, 2) is not None
    assert timetable.lesson_on(monday_after, 2) is None
    with pytest.raises(JournalError) as twice:
        timetable.set_week(CLASS_A, SCHOOL, date(2026, 11, 2), [slot(1, 1), slot(1, 1)])
    assert twice.value.field == "slots[1]"


def test_only_a_scheduled_lesson_is_cancelled_or_substituted() -> None:
    timetable = ClassTimetable(str(CLASS_A))
    timetable.set_week(CLASS_A, SCHOOL, date(2026, 9, 1), [slot(1, 1)])
    monday = date(2026, 11, 23)
    with pytest.raises(JournalError, match="no lesson 2"):
        timetable.cancel(CLASS_A, SCHOOL, monday, 2, "карантин")
    timetable.substitute(
        CLASS_A, SCHOOL, monday, 1, teacher_id=SMIRNOV, subject_id=None, room=None, reason=None
    )
    lesson = timetable.lesson_on(monday, 1)
    assert lesson is not None
    assert (lesson.teacher_id, lesson.subject_id, lesson.substituted) == (SMIRNOV, MATHS, True)
    timetable.revert(CLASS_A, SCHOOL, monday, 1)
    timetable.cancel(CLASS_A, SCHOOL, monday, 1, "карантин")
    assert timetable.lesson_on(monday, 1).cancelled  # type: ignore[union-attr]


def test_attendance_records_changes_only_and_checks_each_line() -> None:
    ref = LessonRef(CLASS_A, SCHOOL, MATHS, date(2026, 11, 23), 1)
    lesson = Lesson(str(ref.lesson_id))
    pupils = [uuid4(), uuid4()]
    entries = [AttendanceEntry(pupils[0], "present"), AttendanceEntry(pupils[1], "absent")]
    assert lesson.mark_attendance(ref, PETROVA, entries, NOW) == 2
    assert lesson.pending[1].absence_reason == "unexcused"  # type: ignore[attr-defined]
    assert lesson.mark_attendance(ref, PETROVA, entries, NOW) == 0
    late_without_minutes = [AttendanceEntry(pupils[0], "late")]
    with pytest.raises(JournalError) as refused:
        lesson.mark_attendance(ref, PETROVA, late_without_minutes, NOW)
    assert refused.value.field == "entries[0].minutes_late"
    future = LessonRef(CLASS_A, SCHOOL, MATHS, date(2026, 12, 1), 1)
    with pytest.raises(JournalError, match="future"):
        Lesson(str(future.lesson_id)).mark_attendance(future, PETROVA, entries, NOW)
    assert lesson_id_for(CLASS_A, ref.lesson_date, 1) == ref.lesson_id


def test_a_final_mark_changes_only_with_a_reason() -> None:
    command = SetFinalMark(uuid4(), MATHS, uuid4(), uuid4(), SCHOOL, CLASS_A, "5", PETROVA)
    final = FinalMark("x")
    quarter = PeriodDates(date(2026, 9, 1), date(2026, 11, 2))
    assert final.set(command, quarter, Decimal("4.57"), NOW)
    assert final.pending[0].suggested_average == "4.57"  # type: ignore[attr-defined]
    assert not final.set(command, quarter, None, NOW)
    with pytest.raises(JournalError, match="reason"):
        final.set(SetFinalMark(**{**vars(command), "value": "4"}), quarter, None, NOW)
    assert suggested_final_mark(Decimal("4.50")) == "5"
    assert suggested_final_mark(Decimal("4.49")) == "4"
    assert isinstance(final.pending[0], ev.FinalMarkSet)


def test_access_policy() -> None:
    teacher = Actor(Role.TEACHER, PETROVA, SCHOOL)
    staff = Actor(Role.SCHOOL_STAFF, uuid4(), SCHOOL)
    access.require_journal_keeper(teacher, SCHOOL, teaches_subject=True)
    access.require_journal_keeper(teacher, SCHOOL, teaches_subject=False, teaches_lesson=True)
    with pytest.raises(Forbidden):
        access.require_journal_keeper(teacher, SCHOOL, teaches_subject=False)
    with pytest.raises(NotFound):
        access.require_journal_keeper(teacher, uuid4(), teaches_subject=True)
    with pytest.raises(Forbidden):
        access.require_journal_keeper(staff, SCHOOL, teaches_subject=True)
    access.require_timetable_keeper(staff, SCHOOL)
    with pytest.raises(Forbidden):
        access.require_timetable_keeper(teacher, SCHOOL)
    with pytest.raises(Forbidden):
        access.require_report_reader(teacher, SCHOOL, is_form_teacher=False, teaches_class=False)
    access.require_report_reader(
        Actor(Role.OPERATOR, uuid4()), uuid4(), is_form_teacher=False, teaches_class=False
    )
