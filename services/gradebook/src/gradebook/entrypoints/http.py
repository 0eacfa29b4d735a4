"""HTTP API of the class journal (commands) and of the diary read model (queries).

Commands answer once the events are committed (the diary shows them a moment later); queries
read only the read model. Authentication and per-pupil authorisation belong to the gateway.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from diary_events.gradebook import MarkValue
from diary_kernel.problems import PROBLEM_RESPONSES, Problem
from diary_kernel.uow import UnitOfWork
from gradebook.adapters import diary_read_model as diary
from gradebook.domain.marks import CorrectMark, JournalError, MarkNotFound, RecordMark, WorkType
from gradebook.service_layer import handlers

router = APIRouter(responses=PROBLEM_RESPONSES)


class RecordMarkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mark_id: UUID = Field(
        default_factory=uuid4,
        description="Chosen by the client to make retries safe; generated when omitted.",
    )
    education_id: UUID = Field(description="The pupil's enrolment (the key of their diary).")
    subject_id: UUID
    teacher_id: UUID
    lesson_date: date
    value: MarkValue
    work_type: WorkType = WorkType.ANSWER


class CorrectMarkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: MarkValue
    reason: str = Field(min_length=1, max_length=500)


class MarkAccepted(BaseModel):
    mark_id: UUID
    version: int


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


class SubjectAverage(BaseModel):
    subject_id: UUID
    weighted_average: Decimal | None
    marks: int


class PupilMarks(BaseModel):
    education_id: UUID
    marks: list[DiaryMark]
    averages: list[SubjectAverage]


def _uow(request: Request) -> UnitOfWork:
    runtime = request.app.state.runtime
    return UnitOfWork(runtime.pool, runtime.store)


def _journal_problem(error: JournalError) -> Problem:
    status = 404 if isinstance(error, MarkNotFound) else 422
    return Problem(
        status,
        "Not found" if status == 404 else "Refused by the journal",
        str(error),
        type_="/problems/journal",
        errors=[{"field": error.field, "message": str(error)}] if error.field else [],
    )


@router.post(
    "/marks",
    status_code=201,
    response_model=MarkAccepted,
    tags=["class journal"],
    summary="Record a mark",
    responses={200: {"description": "The same mark was already recorded (a retry)"}},
)
async def record_mark(body: RecordMarkRequest, request: Request, response: Response) -> MarkAccepted:
    command = RecordMark(**body.model_dump())
    try:
        outcome = await handlers.record_mark(_uow(request), command)
    except JournalError as error:
        raise _journal_problem(error) from error
    if not outcome.created:
        response.status_code = 200
    response.headers["Location"] = f"/marks/{body.mark_id}"
    response.headers["ETag"] = f'"{outcome.version}"'
    return MarkAccepted(mark_id=body.mark_id, version=outcome.version)


@router.post(
    "/marks/{mark_id}/corrections",
    response_model=MarkAccepted,
    tags=["class journal"],
    summary="Correct a recorded mark",
)
async def correct_mark(
    mark_id: UUID,
    body: CorrectMarkRequest,
    request: Request,
    response: Response,
    if_match: Annotated[str | None, Header(description='Version the teacher saw, e.g. "1"')] = None,
) -> MarkAccepted:
    expected = None
    if if_match is not None:
        try:
            expected = int(if_match.strip().strip('"'))
        except ValueError as exc:
            raise Problem(
                400,
                "Invalid If-Match",
                'If-Match must be a version number such as "1"',
                errors=[{"field": "If-Match", "message": "not a version number"}],
            ) from exc
    command = CorrectMark(mark_id=mark_id, value=body.value, reason=body.reason)
    try:
        version = await handlers.correct_mark(_uow(request), command, expected_version=expected)
    except JournalError as error:
        raise _journal_problem(error) from error
    response.headers["ETag"] = f'"{version}"'
    return MarkAccepted(mark_id=mark_id, version=version)


@router.get("/marks/{mark_id}", response_model=DiaryMark, tags=["diary"], summary="One mark")
async def get_mark(mark_id: UUID, request: Request, response: Response) -> DiaryMark:
    async with request.app.state.runtime.pool.acquire() as conn:
        row = await diary.mark_by_id(conn, mark_id)
    if row is None:
        raise Problem(404, "Not found", f"no mark {mark_id} in the diary")
    response.headers["ETag"] = f'"{row["version"]}"'
    return DiaryMark(**row)


@router.get(
    "/diary/{education_id}/marks",
    response_model=PupilMarks,
    tags=["diary"],
    summary="A pupil's marks with weighted averages per subject",
)
async def get_pupil_marks(
    education_id: UUID,
    request: Request,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    subject_id: UUID | None = None,
) -> PupilMarks:
    if date_from and date_to and date_from > date_to:
        raise Problem(
            422,
            "Invalid period",
            "`from` is after `to`",
            errors=[{"field": "from", "message": "must not be after `to`"}],
        )
    async with request.app.state.runtime.pool.acquire() as conn:
        rows = await diary.pupil_marks(
            conn, education_id, date_from=date_from, date_to=date_to, subject_id=subject_id
        )
    return PupilMarks(
        education_id=education_id,
        marks=[DiaryMark(**row) for row in rows],
        averages=[SubjectAverage(**vars(a)) for a in diary.subject_averages(rows)],
    )
