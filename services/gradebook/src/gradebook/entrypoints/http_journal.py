"""HTTP commands of the class journal: timetable, lessons, homework, attendance, remarks, marks.

Commands answer once the events are committed; the diary read models show them a moment later.
Every command needs the actor the gateway verified (see `actor`); refusals are problem+json
naming the field at fault, another school's classes and pupils answer 404.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from diary_events.gradebook import AbsenceReason, Attachment, AttendanceStatus, HomeworkKind, MarkValue
from diary_kernel.problems import PROBLEM_RESPONSES, Problem
from diary_kernel.uow import UnitOfWork
from gradebook.adapters import diary_read_model as diary
from gradebook.adapters.roster_lookup import SqlRoster
from gradebook.domain.errors import JournalError
from gradebook.domain.lessons import AttendanceEntry, HomeworkSpec, lesson_id_for
from gradebook.domain.marks import WorkType
from gradebook.domain.timetable import SlotSpec
from gradebook.entrypoints.actor import CurrentActor
from gradebook.service_layer.journal import Journal, LessonAt, Outcome

router = APIRouter(
    responses={
        **PROBLEM_RESPONSES,
        401: {"description": "No actor: call through the gateway"},
        403: {"description": "The actor may not do this"},
    }
)

LessonNumber = Annotated[int, Field(ge=0, le=12)]
LessonNumberPath = Annotated[int, Path(ge=0, le=12)]
WeekdayPath = Annotated[int, Path(ge=1, le=7, description="ISO weekday, 1 = Monday")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Slot(_Body):
    weekday: int = Field(ge=1, le=7, description="ISO weekday, 1 = Monday")
    lesson_number: LessonNumber
    subject_id: UUID
    teacher_id: UUID
    room: str | None = Field(default=None, max_length=20)
    starts_at: time
    ends_at: time

    def spec(self) -> SlotSpec:
        return SlotSpec(
            self.weekday,
            self.lesson_number,
            self.subject_id,
            self.teacher_id,
            self.starts_at,
            self.ends_at,
            self.room,
        )


class WeeklyTimetable(_Body):
    valid_from: date = Field(description="The first day the timetable applies to.")
    slots: list[Slot] = Field(max_length=84)


class SlotChange(_Body):
    valid_from: date
    subject_id: UUID
    teacher_id: UUID
    room: str | None = Field(default=None, max_length=20)
    starts_at: time
    ends_at: time


class TimetableChange(_Body):
    lesson_date: date
    lesson_number: LessonNumber
    kind: Literal["cancellation", "substitution"]
    teacher_id: UUID | None = Field(default=None, description="The substitute teacher.")
    subject_id: UUID | None = None
    room: str | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=500)


class LessonTopic(_Body):
    subject_id: UUID | None = Field(default=None, description="Checked against the timetable if given.")
    lesson_topic: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=4000)


class Homework(_Body):
    homework_id: UUID = Field(default_factory=uuid4, description="Chosen by the client for safe retries.")
    subject_id: UUID | None = None
    due_on: date
    kind: HomeworkKind = "written"
    text: str = Field(min_length=1, max_length=4000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=10)


class HomeworkEdit(_Body):
    subject_id: UUID | None = None
    due_on: date
    kind: HomeworkKind = "written"
    text: str = Field(min_length=1, max_length=4000)
    attachments: list[Attachment] = Field(default_factory=list, max_length=10)


class Removal(_Body):
    subject_id: UUID | None = None
    reason: str = Field(min_length=1, max_length=500)


class AttendanceLine(_Body):
    education_id: UUID
    status: AttendanceStatus
    absence_reason: AbsenceReason | None = Field(default=None, description="Unexcused when omitted.")
    minutes_late: int | None = Field(default=None, ge=1, le=90)


class Attendance(_Body):
    subject_id: UUID | None = None
    entries: list[AttendanceLine] = Field(min_length=1, max_length=60)


class Remark(_Body):
    remark_id: UUID = Field(default_factory=uuid4)
    subject_id: UUID | None = None
    education_id: UUID
    text: str = Field(min_length=1, max_length=1000)


class RecordMarkRequest(_Body):
    mark_id: UUID = Field(
        default_factory=uuid4,
        description="Chosen by the client to make retries safe; generated when omitted.",
    )
    education_id: UUID = Field(description="The pupil's enrolment (the key of their diary).")
    subject_id: UUID
    lesson_date: date
    lesson_number: LessonNumber | None = Field(default=None, description="Ties the mark to a dated lesson.")
    value: MarkValue
    work_type: WorkType = WorkType.ANSWER
    comment: str | None = Field(default=None, max_length=500)


class CorrectMarkRequest(_Body):
    value: MarkValue
    reason: str = Field(min_length=1, max_length=500)


class RemoveMarkRequest(_Body):
    reason: str = Field(min_length=1, max_length=500)


class FinalMarkRequest(_Body):
    value: MarkValue
    reason: str | None = Field(default=None, max_length=500, description="Required to change a final mark.")


class Accepted(BaseModel):
    version: int = Field(description="Version of the changed journal record (its stream), for If-Match.")
    changed: bool = Field(description="False when the command repeated what the journal already had.")


class LessonAccepted(Accepted):
    lesson_id: UUID


class ItemAccepted(LessonAccepted):
    item_id: UUID


class MarkAccepted(BaseModel):
    mark_id: UUID
    version: int


class FinalMarkAccepted(Accepted):
    suggested_average: Decimal | None = Field(description="Weighted average of the period's marks.")


class DiaryMark(BaseModel):
    mark_id: UUID
    education_id: UUID
    subject_id: UUID
    teacher_id: UUID
    lesson_date: date
    value: str
    work_type: str
    weight: int
    version: int
    recorded_at: datetime
    corrected_at: datetime | None = None
    correction_reason: str | None = None


def _journal(request: Request) -> Journal:
    runtime = request.app.state.runtime
    return Journal(lambda: UnitOfWork(runtime.pool, runtime.store), SqlRoster)


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise Problem(
            400,
            "Invalid If-Match",
            'If-Match must be a version number such as "1"',
            errors=[{"field": "If-Match", "message": "not a version number"}],
        ) from exc


def _accepted(outcome: Outcome, response: Response) -> Accepted:
    response.headers["ETag"] = f'"{outcome.version}"'
    return Accepted(version=outcome.version, changed=outcome.created)


IfMatch = Annotated[str | None, Header(description='Version the teacher saw, e.g. "1"')]

# --- timetable ----------------------------------------------------------------------------------


@router.put("/classes/{class_id}/timetable", response_model=Accepted, tags=["timetable"])
async def set_timetable(
    class_id: UUID, body: WeeklyTimetable, actor: CurrentActor, request: Request, response: Response
) -> Accepted:
    """Replace the class's weekly timetable from a date on (school staff)."""
    outcome = await _journal(request).set_timetable(
        actor, class_id, body.valid_from, [slot.spec() for slot in body.slots]
    )
    return _accepted(outcome, response)


@router.put(
    "/classes/{class_id}/timetable/slots/{weekday}/{lesson_number}",
    response_model=Accepted,
    tags=["timetable"],
)
async def set_slot(
    class_id: UUID,
    weekday: WeekdayPath,
    lesson_number: LessonNumberPath,
    body: SlotChange,
    actor: CurrentActor,
    request: Request,
    response: Response,
) -> Accepted:
    """Set one weekly lesson from a date on (school staff)."""
    spec = SlotSpec(
        weekday, lesson_number, body.subject_id, body.teacher_id, body.starts_at, body.ends_at, body.room
    )
    outcome = await _journal(request).set_slot(actor, class_id, body.valid_from, spec)
    return _accepted(outcome, response)


@router.delete(
    "/classes/{class_id}/timetable/slots/{weekday}/{lesson_number}",
    response_model=Accepted,
    tags=["timetable"],
)
async def clear_slot(
    class_id: UUID,
    weekday: WeekdayPath,
    lesson_number: LessonNumberPath,
    valid_from: date,
    actor: CurrentActor,
    request: Request,
    response: Response,
) -> Accepted:
    """No weekly lesson in this slot from a date on (school staff)."""
    outcome = await _journal(request).clear_slot(actor, class_id, valid_from, weekday, lesson_number)
    return _accepted(outcome, response)


@router.post("/classes/{class_id}/timetable/changes", response_model=Accepted, tags=["timetable"])
async def change_lesson(
    class_id: UUID, body: TimetableChange, actor: CurrentActor, request: Request, response: Response
) -> Accepted:
    """Cancel one dated lesson, or give it to a substitute teacher (school staff)."""
    journal = _journal(request)
    if body.kind == "cancellation":
        outcome = await journal.cancel_lesson(
            actor, class_id, body.lesson_date, body.lesson_number, body.reason or ""
        )
    else:
        if body.teacher_id is None:
            raise JournalError("a substitution names the substitute teacher", field="teacher_id")
        outcome = await journal.substitute_lesson(
            actor,
            class_id,
            body.lesson_date,
            body.lesson_number,
            teacher_id=body.teacher_id,
            subject_id=body.subject_id,
            room=body.room,
            reason=body.reason,
        )
    return _accepted(outcome, response)


@router.delete(
    "/classes/{class_id}/timetable/changes/{lesson_date}/{lesson_number}",
    response_model=Accepted,
    tags=["timetable"],
)
async def revert_change(
    class_id: UUID,
    lesson_date: date,
    lesson_number: LessonNumberPath,
    actor: CurrentActor,
    request: Request,
    response: Response,
) -> Accepted:
    """Take back a cancellation or substitution (school staff)."""
    outcome = await _journal(request).revert_change(actor, class_id, lesson_date, lesson_number)
    return _accepted(outcome, response)


# --- lessons --------------------------------------------------------------------------------------

_LESSON = "/classes/{class_id}/lessons/{lesson_date}/{lesson_number}"


def _lesson_accepted(outcome: Outcome, at: LessonAt, response: Response) -> LessonAccepted:
    response.headers["ETag"] = f'"{outcome.version}"'
    return LessonAccepted(
        version=outcome.version,
        changed=outcome.created,
        lesson_id=lesson_id_for(at.class_id, at.lesson_date, at.lesson_number),
    )


@router.put(f"{_LESSON}/topic", response_model=LessonAccepted, tags=["lessons"])
async def set_topic(
    class_id: UUID,
    lesson_date: date,
    lesson_number: LessonNumberPath,
    body: LessonTopic,
    actor: CurrentActor,
    request: Request,
    response: Response,
) -> LessonAccepted:
    """Write the lesson's topic (the teacher of the lesson)."""
    at = LessonAt(class_id, lesson_date, lesson_number, body.subject_id)
    outcome = await _journal(request).set_topic(actor, at, body.lesson_topic, body.description)
    return _lesson_accepted(outcome, at, response)


@router.post(f"{_LESSON}/homework", status_code=201, response_model=ItemAccepted, tags=["lessons"])
async def assign_homework(
    class_id: UUID,
    lesson_date: date,
    lesson_number: LessonNumberPath,
    body: Homework,
    actor: CurrentActor,
    request: Request,
    response: Response,
) -> ItemAccepted:
    """Set homework in a lesson; the same homework id again is a safe retry (200)."""
    at = LessonAt(class_id, lesson_date, lesson_number, body.subject_id)
    spec = HomeworkSpec(body.homework_id, body.due_on, body.kind, body.text, tuple(body.attachments))
    outcome = await _journal(request).assign_homework(actor, at, spec)
    if not outcome.created:
        response.status_code = 200
    accepted = _lesson_accepted(outcome, at, response)
    return ItemAccepted(**accepted.model_dump(), item_id=body.homework_id)


@router.put(f"{_LESSON}/homework/{{homework_id}}", response_model=LessonAccepted, tags=["lessons"])
async def change_homework(
    class_id: UUID,
    lesson_date: date,
    lesson_number: LessonNumberPath,
    homework_id: UUID,
    body: HomeworkEdit,
    actor: CurrentActor,
    request: Request,
    response: Response,
) -> LessonAccepted:
    """Edit homework already set."""
    at = LessonAt(class_id, lesson_date, lesson_number, body.subject_id)
    spec = HomeworkSpec(homework_id, body.due_on, body.kind, body.text, tuple(body.attachments))
    outcome = await _journal(request).change_homework(actor, at, spec)
    return _lesson_accepted(outcome, at, response)


@router.post(f"{_LESSON}/homework/{{homework_id}}/removal", response_model=LessonAccepted, tags=["lessons"])
async def remove_homework(
    class_id: UUID,
    lesson_date: date,
    lesson_number: LessonNumberPath,
    homework_id: UUID,
    body: Removal,
    actor: CurrentActor,
    request: Request,
    response: Response,
) -> LessonAccepted:
    """Take homework back, with a reason."""
    at = LessonAt(class_id, lesson_date, lesson_number, body.subject_id)
    outcome = await _journal(request).remove_homework(actor, at, homework_id, body.reason)
    return _lesson_accepted(outcome, at, response)


@router.put(f"{_LESSON}/attendance", response_model=LessonAccepted, tags=["lessons"])
async def mark_attendance(
    class_id: UUID,
    lesson_date: date,
    lesson_number: LessonNumberPath,
    body: Attendance,
    actor: CurrentActor,
    request: Request,
    response: Response,
) -> LessonAccepted:
    """Mark the class's attendance of a lesson; only changed entries are recorded."""
    at = LessonAt(class_id, lesson_date, lesson_number, body.subject_id)
    entries = [
        AttendanceEntry(line.education_id, line.status, line.absence_reason, line.minutes_late)
        for line in body.entries
    ]
    outcome = await _journal(request).mark_attendance(actor, at, entries)
    return _lesson_accepted(outcome, at, response)


@router.post(f"{_LESSON}/remarks", status_code=201, response_model=ItemAccepted, tags=["lessons"])
async def make_remark(
    class_id: UUID,
    lesson_date: date,
    lesson_number: LessonNumberPath,
    body: Remark,
    actor: CurrentActor,
    request: Request,
    response: Response,
) -> ItemAccepted:
    """A remark («замечание») about a pupil in a lesson."""
    at = LessonAt(class_id, lesson_date, lesson_number, body.subject_id)
    outcome = await _journal(request).make_remark(actor, at, body.remark_id, body.education_id, body.text)
    if not outcome.created:
        response.status_code = 200
    accepted = _lesson_accepted(outcome, at, response)
    return ItemAccepted(**accepted.model_dump(), item_id=body.remark_id)


# --- marks ------------------------------------------------------------------------------------------


@router.post(
    "/marks",
    status_code=201,
    response_model=MarkAccepted,
    tags=["marks"],
    summary="Record a mark",
    responses={200: {"description": "The same mark was already recorded (a retry)"}},
)
async def record_mark(
    body: RecordMarkRequest, actor: CurrentActor, request: Request, response: Response
) -> MarkAccepted:
    outcome = await _journal(request).record_mark(
        actor,
        mark_id=body.mark_id,
        education_id=body.education_id,
        subject_id=body.subject_id,
        lesson_date=body.lesson_date,
        lesson_number=body.lesson_number,
        value=body.value,
        work_type=body.work_type,
        comment=body.comment,
    )
    if not outcome.created:
        response.status_code = 200
    response.headers["Location"] = f"/marks/{body.mark_id}"
    response.headers["ETag"] = f'"{outcome.version}"'
    return MarkAccepted(mark_id=body.mark_id, version=outcome.version)


@router.post("/marks/{mark_id}/corrections", response_model=MarkAccepted, tags=["marks"])
async def correct_mark(
    mark_id: UUID,
    body: CorrectMarkRequest,
    actor: CurrentActor,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> MarkAccepted:
    """Correct a recorded mark with a reason; with If-Match, refuse if it changed meanwhile (409)."""
    outcome = await _journal(request).correct_mark(
        actor, mark_id, body.value, body.reason, expected_version=_version(if_match)
    )
    response.headers["ETag"] = f'"{outcome.version}"'
    return MarkAccepted(mark_id=mark_id, version=outcome.version)


@router.post("/marks/{mark_id}/removal", response_model=MarkAccepted, tags=["marks"])
async def remove_mark(
    mark_id: UUID,
    body: RemoveMarkRequest,
    actor: CurrentActor,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> MarkAccepted:
    """Take a mark out of the journal with a reason (recorded as an event, never a silent delete)."""
    outcome = await _journal(request).remove_mark(
        actor, mark_id, body.reason, expected_version=_version(if_match)
    )
    response.headers["ETag"] = f'"{outcome.version}"'
    return MarkAccepted(mark_id=mark_id, version=outcome.version)


@router.get("/marks/{mark_id}", response_model=DiaryMark, tags=["marks"], summary="One mark")
async def get_mark(mark_id: UUID, request: Request, response: Response) -> DiaryMark:
    async with request.app.state.runtime.pool.acquire() as conn:
        row = await diary.mark_by_id(conn, mark_id)
    if row is None:
        raise Problem(404, "Not found", f"no mark {mark_id} in the diary")
    response.headers["ETag"] = f'"{row["version"]}"'
    return DiaryMark(**{key: row[key] for key in DiaryMark.model_fields if key in row})


@router.put(
    "/final-marks/{education_id}/{subject_id}/{period_id}", response_model=FinalMarkAccepted, tags=["marks"]
)
async def set_final_mark(
    education_id: UUID,
    subject_id: UUID,
    period_id: UUID,
    body: FinalMarkRequest,
    actor: CurrentActor,
    request: Request,
    response: Response,
) -> FinalMarkAccepted:
    """Set the final mark for a period; changing it needs a reason. Answers the suggested average."""
    outcome, suggested = await _journal(request).set_final_mark(
        actor,
        education_id=education_id,
        subject_id=subject_id,
        period_id=period_id,
        value=body.value,
        reason=body.reason,
    )
    response.headers["ETag"] = f'"{outcome.version}"'
    return FinalMarkAccepted(version=outcome.version, changed=outcome.created, suggested_average=suggested)
