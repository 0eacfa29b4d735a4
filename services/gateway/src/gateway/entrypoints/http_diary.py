"""The diary through the gateway: a parent's children and each diary view, authorised first.

Every `/diary/{education_id}/...` route asks the access read model whether the viewer may read
that education; if not, or if it does not exist, the answer is the same 404. Only then is the
gradebook's read model asked (it trusts the gateway to have decided). ETags pass through, so a
page that polls gets 304 while nothing changed.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from diary_kernel.db import Pool
from diary_kernel.problems import PROBLEM_RESPONSES, Problem
from gateway.adapters import access_model
from gateway.adapters.upstream import Upstreams, UpstreamUnavailable
from gateway.domain.access import may_read_diary, pupil_ids, teacher_ids
from gateway.entrypoints.auth import SignedIn, Viewer
from gateway.entrypoints.relay import API_PREFIX, etagged, relay, relayed
from gradebook.adapters import diary_queries as q

router = APIRouter(
    prefix=API_PREFIX,
    responses={
        **PROBLEM_RESPONSES,
        304: {"description": "Not modified (If-None-Match)"},
        401: PROBLEM_RESPONSES[404] | {"description": "Not signed in"},
        429: PROBLEM_RESPONSES[404] | {"description": "Too many requests (Retry-After)"},
    },
)

DateFrom = Annotated[date | None, Query(alias="from", description="First day, inclusive")]
DateTo = Annotated[date | None, Query(alias="to", description="Last day, inclusive")]
PeriodId = Annotated[UUID | None, Query(description="A period of the school year instead of from/to")]
OnDate = Annotated[date | None, Query(alias="date", description="Any day of the week wanted (default today)")]


def _upstreams(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


def _pool(request: Request) -> Pool:
    pool: Pool = request.app.state.runtime.pool
    return pool


def no_diary(education_id: UUID) -> Problem:
    detail = f"no diary {education_id}"
    return Problem(404, "Not found", detail, errors=[{"field": "education_id", "message": detail}])


async def authorise(request: Request, viewer: Viewer, education_id: UUID) -> None:
    """Raise the same 404 for an education that does not exist and one the viewer may not read."""
    async with _pool(request).acquire() as conn:
        facts = await access_model.diary_facts(
            conn, education_id, viewer.claims.account_id, teacher_ids(viewer.claims)
        )
    if facts is None or not may_read_diary(viewer.claims, facts):
        raise no_diary(education_id)


def _params(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


async def _diary(request: Request, viewer: Viewer, education_id: UUID, view: str, **params: Any) -> Response:
    await authorise(request, viewer, education_id)
    return await relay(
        request,
        _upstreams(request).gradebook,
        "GET",
        f"/diary/{education_id}/{view}",
        params=_params(**params),
    )


# -- children ------------------------------------------------------------------------------


class ChildEducation(BaseModel):
    education_id: UUID
    school_id: UUID
    school_name: str | None
    class_id: UUID | None
    class_name: str | None
    enrolled_on: date
    left_on: date | None
    is_active: bool


class Child(BaseModel):
    pupil_id: UUID
    surname: str | None
    first_name: str | None
    patronymic: str | None
    educations: list[ChildEducation]


class Children(BaseModel):
    items: list[Child]


@router.get(
    "/children",
    response_model=Children,
    tags=["diary"],
    summary="The pupils whose diary the caller reads: a parent's linked children, a pupil themself",
)
async def children(request: Request, viewer: SignedIn) -> Response:
    async with _pool(request).acquire() as conn:
        links = await access_model.linked_pupils(conn, viewer.claims.account_id)
    readable: dict[UUID, set[UUID] | None] = {}
    if viewer.claims.has_role("parent"):
        readable.update(links)  # a link opens the pupil's diary at the linked school only
    for pupil in pupil_ids(viewer.claims):
        readable[pupil] = None  # a pupil reads every diary of their own
    gradebook = _upstreams(request).gradebook
    answers = await asyncio.gather(*(gradebook.call("GET", f"/pupils/{pupil}") for pupil in readable))
    items = []
    for schools, answer in zip(readable.values(), answers, strict=True):
        if answer.status_code == 404:
            continue  # linked, but the roster has not reached the gradebook yet
        if answer.status_code != 200:
            raise UpstreamUnavailable("gradebook", f"answered {answer.status_code} for a pupil's profile")
        profile = answer.json()
        profile["educations"] = [
            e for e in profile["educations"] if schools is None or UUID(e["school_id"]) in schools
        ]
        items.append(Child.model_validate(profile))
    items.sort(key=lambda child: (child.first_name or "", str(child.pupil_id)))
    return etagged(request, Children(items=items).model_dump_json().encode())


# -- diary views ---------------------------------------------------------------------------


@router.get("/diary/{education_id}/week", response_model=q.DiaryWeek, tags=["diary"], summary="Week diary")
async def diary_week(education_id: UUID, request: Request, viewer: SignedIn, on: OnDate = None) -> Response:
    return await _diary(request, viewer, education_id, "week", date=on)


class _Page(BaseModel):
    page: int
    per_page: int


@router.get(
    "/diary/{education_id}/marks",
    response_model=q.PupilMarks,
    tags=["diary"],
    summary="Marks of a range or period, paged (newest last), with weighted averages over the whole range",
    responses={200: {"headers": {"X-Total-Count": {"description": "Marks in the range"}}}},
)
async def diary_marks(
    education_id: UUID,
    request: Request,
    viewer: SignedIn,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    period_id: PeriodId = None,
    page: Annotated[int, Query(ge=1, description="Page number, from 1")] = 1,
    per_page: Annotated[int, Query(ge=1, le=500, description="Marks per page")] = 100,
) -> Response:
    await authorise(request, viewer, education_id)
    answer = await _upstreams(request).gradebook.call(
        "GET",
        f"/diary/{education_id}/marks",
        params=_params(**{"from": date_from, "to": date_to, "period_id": period_id}),
    )
    if answer.status_code != 200:
        return relayed(answer)
    body = orjson.loads(answer.content)
    marks = body["marks"]
    total = len(marks)
    last = max(1, -(-total // per_page))
    body["marks"] = marks[(page - 1) * per_page : page * per_page]
    return etagged(
        request,
        orjson.dumps(body),
        {"X-Total-Count": str(total), "Link": _links(request, page, last)},
    )


def _links(request: Request, page: int, last: int) -> str:
    """RFC 8288 links to the first, previous, next and last pages of the same query."""

    def to(number: int) -> str:
        return str(request.url.include_query_params(page=number))

    links = [f'<{to(1)}>; rel="first"', f'<{to(last)}>; rel="last"']
    if page > 1:
        links.append(f'<{to(min(page - 1, last))}>; rel="prev"')
    if page < last:
        links.append(f'<{to(page + 1)}>; rel="next"')
    return ", ".join(links)


@router.get(
    "/diary/{education_id}/final-marks",
    response_model=q.FinalMarks,
    tags=["diary"],
    summary="Final marks per subject and period: this school year, or another one",
)
async def diary_final_marks(
    education_id: UUID, request: Request, viewer: SignedIn, school_year_id: UUID | None = None
) -> Response:
    return await _diary(request, viewer, education_id, "final-marks", school_year_id=school_year_id)


@router.get(
    "/diary/{education_id}/attendance",
    response_model=q.AttendanceSummary,
    tags=["diary"],
    summary="Absences and lateness per subject",
)
async def diary_attendance(
    education_id: UUID,
    request: Request,
    viewer: SignedIn,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    period_id: PeriodId = None,
) -> Response:
    return await _diary(
        request,
        viewer,
        education_id,
        "attendance",
        **{"from": date_from, "to": date_to, "period_id": period_id},
    )


@router.get(
    "/diary/{education_id}/teachers",
    response_model=q.PupilTeachers,
    tags=["diary"],
    summary="The pupil's teachers by subject, and the form teacher",
)
async def diary_teachers(
    education_id: UUID, request: Request, viewer: SignedIn, on: OnDate = None
) -> Response:
    return await _diary(request, viewer, education_id, "teachers", date=on)


@router.get(
    "/diary/{education_id}/rating",
    response_model=q.ClassRating,
    tags=["diary"],
    summary="The pupil's place in the class by subject average (nobody else is named)",
)
async def diary_rating(
    education_id: UUID,
    request: Request,
    viewer: SignedIn,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    period_id: PeriodId = None,
) -> Response:
    return await _diary(
        request, viewer, education_id, "rating", **{"from": date_from, "to": date_to, "period_id": period_id}
    )


@router.get(
    "/diary/{education_id}/exams",
    response_model=list[q.ExamResult],
    tags=["diary"],
    summary="State exam results (ОГЭ / ЕГЭ)",
)
async def diary_exams(education_id: UUID, request: Request, viewer: SignedIn) -> Response:
    return await _diary(request, viewer, education_id, "exams")
