"""HTTP queries of the diary and of the roster, answered from the read models only.

`/diary/*` is for the gateway, which has already decided that the caller may read this pupil's
diary, so those routes need no actor. Responses carry an ETag (a hash of the body): the gateway
and browsers revalidate with If-None-Match and get 304 while nothing changed. The class report
and class list name pupils, so they are for the class's teachers and the school's staff only.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import TypeAdapter

from diary_kernel.db import Connection
from diary_kernel.problems import PROBLEM_RESPONSES, Problem
from gradebook.adapters import diary_queries as q
from gradebook.adapters import roster_read_model as roster
from gradebook.domain.access import require_report_reader
from gradebook.entrypoints.actor import CurrentActor

router = APIRouter(responses={**PROBLEM_RESPONSES, 304: {"description": "Not modified (If-None-Match)"}})

_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}

IfNoneMatch = Annotated[str | None, Header(description="An ETag of an earlier answer")]
DateFrom = Annotated[date | None, Query(alias="from", description="First day, inclusive")]
DateTo = Annotated[date | None, Query(alias="to", description="Last day, inclusive")]
PeriodId = Annotated[UUID | None, Query(description="A period of the school year instead of from/to")]


@asynccontextmanager
async def _conn(request: Request) -> AsyncIterator[Connection]:
    async with request.app.state.runtime.pool.acquire() as conn:
        yield conn


def _respond(kind: Any, value: Any, if_none_match: str | None) -> Response:
    """JSON with a strong ETag of the body; 304 when the caller already holds it."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    body = adapter.dump_json(value)
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if if_none_match is not None:
        offered = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        if etag in offered or "*" in offered:
            return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _not_found(what: str, field: str) -> Problem:
    return Problem(404, "Not found", what, errors=[{"field": field, "message": what}])


async def _education(conn: Connection, education_id: UUID) -> None:
    if not await q.education_known(conn, education_id):
        raise _not_found(f"no diary {education_id}", "education_id")


async def _range(
    conn: Connection,
    period_id: UUID | None,
    date_from: date | None,
    date_to: date | None,
    *,
    required: bool,
    school_id: UUID | None = None,
) -> tuple[date | None, date | None]:
    """A period or an explicit from/to, never both; a period must be of the pupil's school."""
    if period_id is not None:
        if date_from or date_to:
            raise Problem(
                422,
                "Invalid request",
                "give either period_id or from/to",
                type_="/problems/validation",
                errors=[{"field": "period_id", "message": "not together with from/to"}],
            )
        period = await roster.period_info(conn, period_id)
        if period is None or (school_id is not None and period.school_id != school_id):
            raise _not_found(f"no period {period_id}", "period_id")
        return period.starts_on, period.ends_on
    if required and (date_from is None or date_to is None):
        missing = "from" if date_from is None else "to"
        raise Problem(
            422,
            "Invalid request",
            "give period_id, or both from and to",
            type_="/problems/validation",
            errors=[{"field": missing, "message": "required"}],
        )
    if date_from and date_to and date_from > date_to:
        raise Problem(
            422,
            "Invalid request",
            "`from` is after `to`",
            type_="/problems/validation",
            errors=[{"field": "from", "message": "must not be after `to`"}],
        )
    return date_from, date_to


async def _school_of(conn: Connection, education_id: UUID) -> UUID | None:
    info = await roster.education_at(conn, education_id, date.today())
    return info.school_id if info else None


async def _pupil_period(
    conn: Connection, education_id: UUID, period_id: UUID | None, date_from: date | None, date_to: date | None
) -> tuple[date, date]:
    """A known diary and a required range: a period of the pupil's school, or from/to."""
    await _education(conn, education_id)
    school_id = await _school_of(conn, education_id)
    start, end = await _range(conn, period_id, date_from, date_to, required=True, school_id=school_id)
    assert start is not None
    assert end is not None
    return start, end


# --- The pupil's diary ---------------------------------------------------------------------------


@router.get(
    "/diary/{education_id}/week",
    response_model=q.DiaryWeek,
    tags=["diary"],
    summary="A week of the diary: lessons, homework, marks, attendance, remarks",
)
async def diary_week(
    education_id: UUID,
    request: Request,
    on: Annotated[
        date | None, Query(alias="date", description="Any day of the week; today if absent")
    ] = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    async with _conn(request) as conn:
        week = await q.diary_week(conn, education_id, on or date.today())
    if week is None:
        raise _not_found(f"no diary {education_id}", "education_id")
    return _respond(q.DiaryWeek, week, if_none_match)


@router.get(
    "/diary/{education_id}/marks",
    response_model=q.PupilMarks,
    tags=["diary"],
    summary="A pupil's marks with weighted averages per subject",
)
async def diary_marks(
    education_id: UUID,
    request: Request,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    period_id: PeriodId = None,
    subject_id: UUID | None = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    async with _conn(request) as conn:
        await _education(conn, education_id)
        school_id = await _school_of(conn, education_id)
        start, end = await _range(conn, period_id, date_from, date_to, required=False, school_id=school_id)
        marks = await q.pupil_marks(conn, education_id, start, end, subject_id)
    return _respond(q.PupilMarks, marks, if_none_match)


@router.get(
    "/diary/{education_id}/final-marks",
    response_model=q.FinalMarks,
    tags=["diary"],
    summary="Final marks: periods × subjects for each school year (or one)",
)
async def diary_final_marks(
    education_id: UUID,
    request: Request,
    school_year_id: UUID | None = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    async with _conn(request) as conn:
        await _education(conn, education_id)
        marks = await q.final_marks(conn, education_id, school_year_id)
    if school_year_id is not None and not marks.years:
        raise _not_found(f"no school year {school_year_id} in this diary", "school_year_id")
    return _respond(q.FinalMarks, marks, if_none_match)


@router.get(
    "/diary/{education_id}/attendance",
    response_model=q.AttendanceSummary,
    tags=["diary"],
    summary="Missed lessons per subject (excused, unexcused, illness) and lateness",
)
async def diary_attendance(
    education_id: UUID,
    request: Request,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    period_id: PeriodId = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    async with _conn(request) as conn:
        start, end = await _pupil_period(conn, education_id, period_id, date_from, date_to)
        summary = await q.attendance_summary(conn, education_id, start, end)
    return _respond(q.AttendanceSummary, summary, if_none_match)


@router.get(
    "/diary/{education_id}/teachers",
    response_model=q.PupilTeachers,
    tags=["diary"],
    summary="The pupil's teachers: subject → teacher, and the form teacher",
)
async def diary_teachers(
    education_id: UUID,
    request: Request,
    on: Annotated[
        date | None, Query(alias="date", description="Whose class on that day; today if absent")
    ] = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    async with _conn(request) as conn:
        teachers = await q.pupil_teachers(conn, education_id, on or date.today())
    if teachers is None:
        raise _not_found(f"no diary {education_id}", "education_id")
    return _respond(q.PupilTeachers, teachers, if_none_match)


@router.get(
    "/diary/{education_id}/rating",
    response_model=q.ClassRating,
    tags=["diary"],
    summary="The pupil's position in the class per subject (no other pupil's names or marks)",
)
async def diary_rating(
    education_id: UUID,
    request: Request,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    period_id: PeriodId = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    async with _conn(request) as conn:
        start, end = await _pupil_period(conn, education_id, period_id, date_from, date_to)
        rating = await q.class_rating(conn, education_id, start, end)
    return _respond(q.ClassRating, rating, if_none_match)


@router.get(
    "/diary/{education_id}/exams",
    response_model=list[q.ExamResult],
    tags=["diary"],
    summary="State exam results (ОГЭ / ЕГЭ) as last published",
)
async def diary_exams(education_id: UUID, request: Request, if_none_match: IfNoneMatch = None) -> Response:
    async with _conn(request) as conn:
        await _education(conn, education_id)
        results = await q.exam_results(conn, education_id)
    return _respond(list[q.ExamResult], results, if_none_match)


@router.get(
    "/pupils/{pupil_id}",
    response_model=q.PupilProfile,
    tags=["diary"],
    summary="A pupil's name and enrolments (educations), for the gateway's list of a parent's children",
)
async def pupil_profile(
    pupil_id: UUID,
    request: Request,
    on: Annotated[date | None, Query(alias="date")] = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    async with _conn(request) as conn:
        profile = await q.pupil_profile(conn, pupil_id, on or date.today())
    if profile is None:
        raise _not_found(f"no pupil {pupil_id}", "pupil_id")
    return _respond(q.PupilProfile, profile, if_none_match)


# --- Classes and schools -------------------------------------------------------------------------


async def _authorise_staff_read(conn: Connection, actor: CurrentActor, class_id: UUID) -> roster.ClassInfo:
    """Operators; the school's staff; the form teacher and the teachers of the class."""
    info = await roster.class_info(conn, class_id)
    if info is None:
        raise _not_found(f"no class {class_id}", "class_id")
    require_report_reader(  # a refusal is answered by the journal's error handler
        actor,
        info.school_id,
        is_form_teacher=info.form_teacher_id == actor.actor_id,
        teaches_class=await roster.teaches_class(conn, actor.actor_id, class_id),
    )
    return info


@router.get(
    "/classes/{class_id}/report",
    response_model=q.ClassReport,
    tags=["class journal"],
    summary="Period report: averages, marks and absences per pupil and subject",
    responses={401: PROBLEM_RESPONSES[404] | {"description": "No actor"}, 403: PROBLEM_RESPONSES[404]},
)
async def class_report(
    class_id: UUID,
    request: Request,
    actor: CurrentActor,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    period_id: PeriodId = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    async with _conn(request) as conn:
        info = await _authorise_staff_read(conn, actor, class_id)
        start, end = await _range(
            conn, period_id, date_from, date_to, required=True, school_id=info.school_id
        )
        assert start is not None
        assert end is not None
        report = await q.class_report(conn, class_id, start, end)
    assert report is not None
    return _respond(q.ClassReport, report, if_none_match)


@router.get(
    "/classes/{class_id}/pupils",
    response_model=list[q.ClassPupil],
    tags=["roster"],
    summary="The pupils of a class on a date (staff-facing: names)",
    responses={401: PROBLEM_RESPONSES[404] | {"description": "No actor"}, 403: PROBLEM_RESPONSES[404]},
)
async def class_pupils(
    class_id: UUID,
    request: Request,
    actor: CurrentActor,
    on: Annotated[date | None, Query(alias="date")] = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    async with _conn(request) as conn:
        await _authorise_staff_read(conn, actor, class_id)
        pupils = await q.class_pupils(conn, class_id, on or date.today())
    return _respond(list[q.ClassPupil], pupils, if_none_match)


@router.get(
    "/classes/{class_id}/timetable",
    response_model=q.DiaryWeek,
    tags=["roster"],
    summary="A class's timetable for the week of a date, with that week's changes",
)
async def class_timetable(
    class_id: UUID,
    request: Request,
    on: Annotated[date | None, Query(alias="date")] = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    async with _conn(request) as conn:
        week = await q.class_week(conn, class_id, on or date.today())
    if week is None:
        raise _not_found(f"no class {class_id}", "class_id")
    return _respond(q.DiaryWeek, week, if_none_match)


@router.get("/schools", response_model=list[q.School], tags=["roster"], summary="Schools")
async def list_schools(request: Request, if_none_match: IfNoneMatch = None) -> Response:
    async with _conn(request) as conn:
        found = await q.schools(conn)
    return _respond(list[q.School], found, if_none_match)


@router.get(
    "/schools/{school_id}/classes",
    response_model=list[q.SchoolClass],
    tags=["roster"],
    summary="Classes of a school",
)
async def list_classes(
    school_id: UUID, request: Request, school_year_id: UUID | None = None, if_none_match: IfNoneMatch = None
) -> Response:
    async with _conn(request) as conn:
        if not await q.school_exists(conn, school_id):
            raise _not_found(f"no school {school_id}", "school_id")
        found = await q.school_classes(conn, school_id, school_year_id)
    return _respond(list[q.SchoolClass], found, if_none_match)
