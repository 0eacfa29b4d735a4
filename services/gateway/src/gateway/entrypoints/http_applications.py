"""Access applications through the gateway: the parents' form and the school's decisions.

The applications service checks the caller's token itself and decides who may touch what; the
gateway validates the body first (the same models, so the same problem+json fields) and passes
the call on with the token. Paths are the service's own under `/api/v1`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from applications.entrypoints.http_applications import (
    ApplicationBody,
    ApplicationDetail,
    ApplicationView,
    ApprovalBody,
    Candidates,
    ClassView,
    ConsentTextView,
    Queue,
    Reason,
    RejectionBody,
    SchoolView,
    Submitted,
)
from diary_kernel.problems import PROBLEM_RESPONSES
from gateway.adapters.upstream import Upstream, Upstreams
from gateway.entrypoints.auth import SignedIn, Viewer
from gateway.entrypoints.relay import API_PREFIX, relay

router = APIRouter(
    prefix=API_PREFIX,
    responses={
        **PROBLEM_RESPONSES,
        401: PROBLEM_RESPONSES[404] | {"description": "Not signed in"},
        403: PROBLEM_RESPONSES[404] | {"description": "Not allowed"},
    },
)


def _applications(request: Request) -> Upstream:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams.applications


async def _get(request: Request, path: str, viewer: Viewer | None = None, **params: object) -> Response:
    headers = viewer.authorization if viewer is not None else {}
    query = {k: str(v) for k, v in params.items() if v is not None}
    return await relay(request, _applications(request), "GET", path, headers=headers, params=query)


async def _post(request: Request, path: str, viewer: Viewer, body: object = None) -> Response:
    return await relay(request, _applications(request), "POST", path, headers=viewer.authorization, json=body)


# -- reference ---------------------------------------------------------------------------------


@router.get(
    "/consent-texts/current",
    response_model=ConsentTextView,
    tags=["applications"],
    summary="The consent text a parent accepts",
)
async def current_consent(request: Request) -> Response:
    return await _get(request, "/consent-texts/current")


@router.get(
    "/consent-texts/{version}",
    response_model=ConsentTextView,
    tags=["applications"],
    summary="A consent text by version",
)
async def consent_text(version: str, request: Request) -> Response:
    return await _get(request, f"/consent-texts/{version}")


@router.get(
    "/rejection-reasons",
    response_model=list[Reason],
    tags=["applications"],
    summary="Reasons a school may refuse with",
)
async def rejection_reasons(request: Request) -> Response:
    return await _get(request, "/rejection-reasons")


@router.get(
    "/schools",
    response_model=list[SchoolView],
    tags=["applications"],
    summary="Schools a parent may apply to",
)
async def schools(request: Request, viewer: SignedIn) -> Response:
    return await _get(request, "/schools", viewer)


@router.get(
    "/schools/{school_id}/classes",
    response_model=list[ClassView],
    tags=["applications"],
    summary="The school's open classes",
)
async def classes(school_id: UUID, request: Request, viewer: SignedIn) -> Response:
    return await _get(request, f"/schools/{school_id}/classes", viewer)


# -- parents -----------------------------------------------------------------------------------


@router.post(
    "/applications",
    status_code=201,
    response_model=Submitted,
    tags=["applications"],
    summary="File an application for access to one child's diary",
)
async def submit(body: ApplicationBody, request: Request, viewer: SignedIn) -> Response:
    return await _post(request, "/applications", viewer, body.model_dump(mode="json"))


@router.get(
    "/applications",
    response_model=list[ApplicationView],
    tags=["applications"],
    summary="My applications, newest first",
)
async def mine(request: Request, viewer: SignedIn) -> Response:
    return await _get(request, "/applications", viewer)


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationDetail,
    tags=["applications"],
    summary="One application and its audit trail",
)
async def detail(application_id: UUID, request: Request, viewer: SignedIn) -> Response:
    return await _get(request, f"/applications/{application_id}", viewer)


@router.post(
    "/applications/{application_id}/withdrawal",
    status_code=204,
    tags=["applications"],
    summary="Withdraw a pending application",
)
async def withdraw(application_id: UUID, request: Request, viewer: SignedIn) -> Response:
    return await _post(request, f"/applications/{application_id}/withdrawal", viewer)


@router.post(
    "/applications/{application_id}/consent-withdrawal",
    status_code=204,
    tags=["applications"],
    summary="Withdraw the consent: ends the application or the link",
)
async def withdraw_consent(application_id: UUID, request: Request, viewer: SignedIn) -> Response:
    return await _post(request, f"/applications/{application_id}/consent-withdrawal", viewer)


# -- school staff ------------------------------------------------------------------------------


@router.get(
    "/schools/{school_id}/applications",
    response_model=Queue,
    tags=["applications"],
    summary="The school's applications, oldest first (school staff)",
)
async def queue(
    school_id: UUID,
    request: Request,
    viewer: SignedIn,
    state: Annotated[Literal["pending", "approved", "rejected", "withdrawn", "all"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[datetime | None, Query(description="`next_after` of the previous page")] = None,
) -> Response:
    return await _get(
        request,
        f"/schools/{school_id}/applications",
        viewer,
        state=state,
        limit=limit,
        after=after.isoformat() if after else None,
    )


@router.get(
    "/applications/{application_id}/candidates",
    response_model=Candidates,
    tags=["applications"],
    summary="Registry pupils the application may be about (school staff)",
)
async def candidates(application_id: UUID, request: Request, viewer: SignedIn) -> Response:
    return await _get(request, f"/applications/{application_id}/candidates", viewer)


@router.post(
    "/applications/{application_id}/approval",
    status_code=204,
    tags=["applications"],
    summary="Approve with the registry pupil (school staff)",
)
async def approve(application_id: UUID, body: ApprovalBody, request: Request, viewer: SignedIn) -> Response:
    return await _post(
        request, f"/applications/{application_id}/approval", viewer, body.model_dump(mode="json")
    )


@router.post(
    "/applications/{application_id}/rejection",
    status_code=204,
    tags=["applications"],
    summary="Reject with a reason (school staff)",
)
async def reject(application_id: UUID, body: RejectionBody, request: Request, viewer: SignedIn) -> Response:
    return await _post(
        request, f"/applications/{application_id}/rejection", viewer, body.model_dump(mode="json")
    )


@router.post(
    "/applications/{application_id}/link-revocation",
    status_code=204,
    tags=["applications"],
    summary="End a parent's link (school staff)",
)
async def revoke_link(application_id: UUID, request: Request, viewer: SignedIn) -> Response:
    return await _post(request, f"/applications/{application_id}/link-revocation", viewer)
