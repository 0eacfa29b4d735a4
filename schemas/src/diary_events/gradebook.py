"""Events on `gradebook.events.v1`: the roster the gradebook mirrors from the school registry,
and what teachers record in the class journal.

Payloads carry ids; a pupil's name and birth date travel only sealed under that pupil's own key
(see `diary_events.personal`). Roster events carry the full new state of what changed, so a
consumer upserts and never needs the previous event.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from diary_events.base import DomainEvent
from diary_events.personal import SealedPersonalData
from diary_events.registry import LeavingReason, PeriodKind

GRADEBOOK_EVENTS_TOPIC = "gradebook.events.v1"

MarkValue = Literal["5", "4", "3", "2", "1", "зачёт", "незачёт", "н/а"]
"""A mark as the journal shows it: the five-point scale, pass/fail, or «н/а» (not assessed)."""

AttendanceStatus = Literal["present", "absent", "late"]
AbsenceReason = Literal["excused", "unexcused", "illness"]
HomeworkKind = Literal["written", "oral", "reading", "project", "test_preparation", "other"]


class GradebookEvent(DomainEvent):
    topic: ClassVar[str] = GRADEBOOK_EVENTS_TOPIC


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# --- Roster, mirrored from the school registry -------------------------------------------------


class SchoolRegistered(GradebookEvent):
    """A school appeared in the registry (or changed: `SchoolChanged` carries the same fields)."""

    event_type: ClassVar[str] = "diary.gradebook.SchoolRegistered.v1"

    school_id: UUID
    district_id: UUID
    district_name: str
    name: str
    short_name: str
    address: str | None = None


class SchoolChanged(SchoolRegistered):
    """A school's name, district or address changed in the registry."""

    event_type: ClassVar[str] = "diary.gradebook.SchoolChanged.v1"


class SchoolClosed(GradebookEvent):
    """The registry closed the school."""

    event_type: ClassVar[str] = "diary.gradebook.SchoolClosed.v1"

    school_id: UUID


class SubjectRegistered(GradebookEvent):
    """A subject taught in a school (re-emitted when renamed)."""

    event_type: ClassVar[str] = "diary.gradebook.SubjectRegistered.v1"

    subject_id: UUID
    school_id: UUID
    name: str


class Period(_Frozen):
    period_id: UUID
    kind: PeriodKind
    number: int
    name: str
    starts_on: date
    ends_on: date


class SchoolYearOpened(GradebookEvent):
    """A school year with its periods (re-emitted in full when the periods change)."""

    event_type: ClassVar[str] = "diary.gradebook.SchoolYearOpened.v1"

    school_year_id: UUID
    school_id: UUID
    name: str
    starts_on: date
    ends_on: date
    periods: list[Period]


class ClassOpened(GradebookEvent):
    """A class of a school year; `ClassChanged` carries the same fields after a change."""

    event_type: ClassVar[str] = "diary.gradebook.ClassOpened.v1"

    class_id: UUID
    school_id: UUID
    school_year_id: UUID
    grade: int
    letter: str
    name: str = Field(examples=["5А"])
    form_teacher_id: UUID | None = None


class ClassChanged(ClassOpened):
    """A class's letter, grade or form teacher changed."""

    event_type: ClassVar[str] = "diary.gradebook.ClassChanged.v1"


class ClassClosed(GradebookEvent):
    """The registry closed the class."""

    event_type: ClassVar[str] = "diary.gradebook.ClassClosed.v1"

    class_id: UUID
    school_id: UUID


class PupilRegistered(GradebookEvent):
    """A pupil's personal data, sealed under the pupil's key (re-emitted when it changes)."""

    event_type: ClassVar[str] = "diary.gradebook.PupilRegistered.v1"

    pupil_id: UUID
    personal_data: SealedPersonalData = Field(
        description="Sealed JSON: surname, first_name, patronymic, birth_date."
    )


class PupilEnrolled(GradebookEvent):
    """A pupil was enrolled in a school and class: a new diary (`education_id`) begins."""

    event_type: ClassVar[str] = "diary.gradebook.PupilEnrolled.v1"

    education_id: UUID
    pupil_id: UUID
    school_id: UUID
    class_id: UUID
    enrolled_on: date


class PupilTransferred(GradebookEvent):
    """A pupil moved to another class of the same school; the diary continues."""

    event_type: ClassVar[str] = "diary.gradebook.PupilTransferred.v1"

    education_id: UUID
    pupil_id: UUID
    school_id: UUID
    from_class_id: UUID
    to_class_id: UUID
    transferred_on: date


class PupilLeftSchool(GradebookEvent):
    """A pupil's enrolment in a school ended; the diary there stays readable as history."""

    event_type: ClassVar[str] = "diary.gradebook.PupilLeftSchool.v1"

    education_id: UUID
    pupil_id: UUID
    school_id: UUID
    class_id: UUID
    left_on: date
    reason: LeavingReason


class TeacherRegistered(GradebookEvent):
    """A teacher of a school (adults' names travel in clear); re-emitted when changed."""

    event_type: ClassVar[str] = "diary.gradebook.TeacherRegistered.v1"

    teacher_id: UUID
    school_id: UUID
    surname: str
    first_name: str
    patronymic: str | None = None
    position: str


class TeacherDismissed(GradebookEvent):
    """A teacher left the school's staff; their assignments there end."""

    event_type: ClassVar[str] = "diary.gradebook.TeacherDismissed.v1"

    teacher_id: UUID
    school_id: UUID


class TeacherAssigned(GradebookEvent):
    """A teacher teaches a subject in a class: they may keep its journal."""

    event_type: ClassVar[str] = "diary.gradebook.TeacherAssigned.v1"

    assignment_id: UUID
    teacher_id: UUID
    school_id: UUID
    class_id: UUID
    subject_id: UUID


class TeacherUnassigned(TeacherAssigned):
    """A teaching assignment ended."""

    event_type: ClassVar[str] = "diary.gradebook.TeacherUnassigned.v1"


# --- Timetable ----------------------------------------------------------------------------------


class TimetableSlotSet(GradebookEvent):
    """A weekly lesson of a class from a date on: weekday and number → subject, teacher, room."""

    event_type: ClassVar[str] = "diary.gradebook.TimetableSlotSet.v1"

    class_id: UUID
    school_id: UUID
    weekday: int = Field(ge=1, le=7, description="ISO weekday, 1 = Monday.")
    lesson_number: int = Field(ge=0, le=12)
    valid_from: date
    subject_id: UUID
    teacher_id: UUID
    room: str | None = None
    starts_at: time
    ends_at: time


class TimetableSlotCleared(GradebookEvent):
    """No weekly lesson in this slot from `valid_from` on."""

    event_type: ClassVar[str] = "diary.gradebook.TimetableSlotCleared.v1"

    class_id: UUID
    school_id: UUID
    weekday: int = Field(ge=1, le=7)
    lesson_number: int = Field(ge=0, le=12)
    valid_from: date


class LessonCancelled(GradebookEvent):
    """One dated lesson of the timetable does not take place."""

    event_type: ClassVar[str] = "diary.gradebook.LessonCancelled.v1"

    class_id: UUID
    school_id: UUID
    lesson_date: date
    lesson_number: int
    reason: str


class LessonSubstituted(GradebookEvent):
    """One dated lesson is taught by another teacher (and maybe subject or room)."""

    event_type: ClassVar[str] = "diary.gradebook.LessonSubstituted.v1"

    class_id: UUID
    school_id: UUID
    lesson_date: date
    lesson_number: int
    subject_id: UUID
    teacher_id: UUID
    room: str | None = None
    reason: str | None = None


class TimetableChangeReverted(GradebookEvent):
    """A cancellation or substitution of a dated lesson was taken back."""

    event_type: ClassVar[str] = "diary.gradebook.TimetableChangeReverted.v1"

    class_id: UUID
    school_id: UUID
    lesson_date: date
    lesson_number: int


# --- Lessons: topic, homework, attendance, remarks ----------------------------------------------


class LessonFacts(GradebookEvent):
    """What identifies a dated lesson; every lesson event carries it so read models need no join."""

    lesson_id: UUID
    class_id: UUID
    school_id: UUID
    subject_id: UUID
    lesson_date: date
    lesson_number: int


class LessonTopicSet(LessonFacts):
    """The teacher wrote the lesson's topic («тема урока») in the journal."""

    event_type: ClassVar[str] = "diary.gradebook.LessonTopicSet.v1"

    teacher_id: UUID
    lesson_topic: str = Field(max_length=500)
    description: str | None = Field(default=None, max_length=4000)


class Attachment(_Frozen):
    title: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2000)


class HomeworkAssigned(LessonFacts):
    """Homework set in a lesson, due on a date (`HomeworkChanged` carries the same fields)."""

    event_type: ClassVar[str] = "diary.gradebook.HomeworkAssigned.v1"

    homework_id: UUID
    teacher_id: UUID
    due_on: date
    kind: HomeworkKind
    text: str = Field(max_length=4000)
    attachments: list[Attachment] = Field(default_factory=list)


class HomeworkChanged(HomeworkAssigned):
    """The teacher edited homework already set."""

    event_type: ClassVar[str] = "diary.gradebook.HomeworkChanged.v1"


class HomeworkRemoved(LessonFacts):
    """Homework taken back by the teacher."""

    event_type: ClassVar[str] = "diary.gradebook.HomeworkRemoved.v1"

    homework_id: UUID
    teacher_id: UUID
    reason: str


class AttendanceMarked(LessonFacts):
    """A pupil's attendance of a lesson; a later mark for the same pupil replaces it."""

    event_type: ClassVar[str] = "diary.gradebook.AttendanceMarked.v1"

    education_id: UUID
    teacher_id: UUID
    status: AttendanceStatus
    absence_reason: AbsenceReason | None = None
    minutes_late: int | None = Field(default=None, ge=1, le=90)


class RemarkMade(LessonFacts):
    """A teacher's remark («замечание») about a pupil in a lesson."""

    event_type: ClassVar[str] = "diary.gradebook.RemarkMade.v1"

    remark_id: UUID
    education_id: UUID
    teacher_id: UUID
    text: str = Field(max_length=1000)
    made_at: datetime


# --- Marks ----------------------------------------------------------------------------------------


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
    lesson_id: UUID | None = Field(default=None, description="The dated lesson, when known.")
    lesson_number: int | None = None
    class_id: UUID | None = None
    school_id: UUID | None = None
    comment: str | None = Field(default=None, max_length=500)


class MarkCorrected(GradebookEvent):
    """A teacher changed a mark already recorded (a typo, a retake)."""

    event_type: ClassVar[str] = "diary.gradebook.MarkCorrected.v1"

    mark_id: UUID
    education_id: UUID
    value: MarkValue
    reason: str = Field(max_length=500)
    corrected_at: datetime
    corrected_by: UUID | None = Field(default=None, description="The teacher who corrected it.")


class MarkRemoved(GradebookEvent):
    """A mark was taken out of the journal, with the reason and who did it."""

    event_type: ClassVar[str] = "diary.gradebook.MarkRemoved.v1"

    mark_id: UUID
    education_id: UUID
    reason: str = Field(max_length=500)
    removed_by: UUID
    removed_at: datetime


class FinalMarkSet(GradebookEvent):
    """A final mark for a subject and period (quarter, half-year, year); a later one replaces it."""

    event_type: ClassVar[str] = "diary.gradebook.FinalMarkSet.v1"

    education_id: UUID
    subject_id: UUID
    period_id: UUID
    school_year_id: UUID
    school_id: UUID
    class_id: UUID
    value: MarkValue
    teacher_id: UUID
    suggested_average: str | None = Field(
        default=None, description="The weighted average offered as the suggestion, e.g. '4.57'."
    )
    reason: str | None = Field(default=None, description="Why an existing final mark was changed.")
    set_at: datetime


# --- State exams ---------------------------------------------------------------------------------


class ExamResultPublished(GradebookEvent):
    """A state exam result (ОГЭ / ЕГЭ) from the exam centre; re-emitted after an appeal."""

    event_type: ClassVar[str] = "diary.gradebook.ExamResultPublished.v1"

    result_id: UUID
    pupil_id: UUID
    education_id: UUID | None = Field(default=None, description="The diary it shows in, if enrolled.")
    school_id: UUID
    exam: Literal["ОГЭ", "ЕГЭ"]
    subject_name: str
    exam_date: date
    primary_score: int
    max_primary_score: int
    test_score: int | None = None
    mark: int | None = None
    status: Literal["published", "appealed", "revised", "annulled"]
