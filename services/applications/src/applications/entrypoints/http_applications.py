"""HTTP API of the applications service: what the parents' web page and school staff call.

Every route needs an access token from the identity service (`Authorization: Bearer`); the
gateway forwards it. A parent sees only their own applications; staff only their school's.
Refusals are problem+json naming the field at fault.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from applications.adapters import roster
from applications.domain.applications import REJECTION_REASONS, UNLINK_REASONS, ApplicationError
from applications.domain.consent import CONSENT_TEXTS, CURRENT_CONSENT
from applications.domain.names import Child, PersonName, clean_name
from applications.service_layer.applications import ApplicationForm, Applications
from diary_events.applications import RejectionReason, Relation
from diary_kernel.http_auth import Caller
from diary_kernel.problems import PROBLEM_RESPONSES, install_refusals

router = APIRouter(responses=PROBLEM_RESPONSES)


def _applications(request: Request) -> Applications:
    applications: Applications = request.app.state.applications
    return applications


ApplicationsDep = Annotated[Applications, Depends(_applications)]

NamePart = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\d<>\"{}\\/;]+$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NameBody(_Body):
    surname: NamePart
    first_name: NamePart
    patronymic: NamePart | None = None

    def name(self) -> PersonName:
        return PersonName(
            clean_name(self.surname) or self.surname,
            clean_name(self.first_name) or self.first_name,
            clean_name(self.patronymic),
        )


class ChildBody(NameBody):
    birth_date: date


class ConsentBody(_Body):
    version: str = Field(examples=[CURRENT_CONSENT.version], description="The consent text's version shown.")
    accepted: bool = Field(description="The parent ticked «I consent».")


class ApplicationBody(_Body):
    child: ChildBody
    applicant: NameBody = Field(description="The parent's (guardian's) name as in the passport.")
    relation: Relation
    school_id: UUID
    class_id: UUID | None = None
    consent: ConsentBody

    def form(self) -> ApplicationForm:
        return ApplicationForm(
            child=Child(self.child.name(), self.child.birth_date),
            applicant=self.applicant.name(),
            school_id=self.school_id,
            class_id=self.class_id,
            relation=self.relation,
            consent_version=self.consent.version,
            consent_accepted=self.consent.accepted,
        )


class ApprovalBody(_Body):
    pupil_id: UUID = Field(description="The registry pupil the staff member matched, from /candidates.")


class RejectionBody(_Body):
    reason: RejectionReason
    comment: str | None = Field(default=None, max_length=1000)


class PersonView(BaseModel):
    surname: str
    first_name: str
    patronymic: str | None = None
    birth_date: date | None = None


class ApplicationView(BaseModel):
    application_id: UUID
    state: Literal["pending", "approved", "rejected", "withdrawn"]
    school_id: UUID
    class_id: UUID | None
    relation: Relation
    child: PersonView | None = Field(description="Null once the application's personal data was erased.")
    applicant: PersonView | None
    submitted_at: datetime
    decided_at: datetime | None
    rejection_reason: str | None
    rejection_reason_text: str | None
    rejection_comment: str | None
    consent_version: str | None
    consent_given_at: datetime | None
    consent_withdrawn_at: datetime | None
    pupil_id: UUID | None
    linked: bool
    linked_at: datetime | None
    unlinked_at: datetime | None
    unlink_reason: str | None
    unlink_reason_text: str | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ApplicationView:
        return cls(
            **{k: v for k, v in row.items() if k in cls.model_fields},
            rejection_reason_text=REJECTION_REASONS.get(row.get("rejection_reason") or ""),
            unlink_reason_text=UNLINK_REASONS.get(row.get("unlink_reason") or ""),
        )


class AuditEntry(BaseModel):
    at: datetime
    action: Literal[
        "submitted",
        "consent_given",
        "consent_withdrawn",
        "approved",
        "rejected",
        "withdrawn",
        "linked",
        "unlinked",
    ]
    actor_role: str = Field(description="parent, school_staff, operator or system")
    actor_account: UUID | None
    actor_name: str | None = Field(description="The deciding staff member, when the roster names them.")
    actor_position: str | None
    detail: dict[str, Any]


class ApplicationDetail(ApplicationView):
    school_name: str | None
    audit_trail: list[AuditEntry]


class Submitted(BaseModel):
    application_id: UUID
    state: Literal["pending"] = "pending"


class CandidateView(BaseModel):
    pupil_id: UUID
    surname: str
    first_name: str
    patronymic: str | None
    birth_date: date
    class_id: UUID
    class_name: str
    closeness: Literal["exact", "close", "partial"]
    surname_matches: bool
    first_name_matches: bool
    patronymic_matches: bool
    birth_date_matches: bool
    in_named_class: bool


class Candidates(BaseModel):
    application: ApplicationView
    candidates: list[CandidateView]
    checks_in_person: list[str] = Field(description="What to verify against the documents before deciding.")


class Queue(BaseModel):
    items: list[ApplicationView]
    next_after: datetime | None = Field(
        description="Pass as `after` for the next page; null on the last one."
    )


class ConsentTextView(BaseModel):
    version: str
    title: str
    text: str
    current: bool


class Reason(BaseModel):
    code: str
    text: str


class SchoolView(BaseModel):
    school_id: UUID
    name: str
    short_name: str
    district_name: str


class ClassView(BaseModel):
    class_id: UUID
    grade: int
    name: str


# -- reference data ------------------------------------------------------------------------


@router.get("/consent-texts/current", tags=["reference"], summary="The consent text a parent accepts")
async def current_consent() -> ConsentTextView:
    text = CURRENT_CONSENT
    return ConsentTextView(version=text.version, title=text.title, text=text.text, current=True)


@router.get("/consent-texts/{version}", tags=["reference"], summary="A consent text by version")
async def consent_text(version: str) -> ConsentTextView:
    text = CONSENT_TEXTS.get(version)
    if text is None:
        raise ApplicationError("no consent text of this version", field="version")
    return ConsentTextView(
        version=text.version,
        title=text.title,
        text=text.text,
        current=text.version == CURRENT_CONSENT.version,
    )


@router.get("/rejection-reasons", tags=["reference"], summary="Reasons a school may refuse with")
async def rejection_reasons() -> list[Reason]:
    return [Reason(code=code, text=text) for code, text in REJECTION_REASONS.items()]


@router.get("/schools", tags=["reference"], summary="Open schools a parent may apply to")
async def schools(request: Request, _caller: Caller) -> list[SchoolView]:
    async with request.app.state.runtime.pool.acquire() as conn:
        return [SchoolView(**vars(s)) for s in await roster.open_schools(conn)]


@router.get("/schools/{school_id}/classes", tags=["reference"], summary="The school's open classes")
async def classes(school_id: UUID, request: Request, _caller: Caller) -> list[ClassView]:
    async with request.app.state.runtime.pool.acquire() as conn:
        return [
            ClassView(class_id=c.class_id, grade=c.grade, name=c.name)
            for c in await roster.classes_of(conn, school_id)
        ]


# -- parents -------------------------------------------------------------------------------


@router.post(
    "/applications",
    status_code=status.HTTP_201_CREATED,
    tags=["parents"],
    summary="File an application for access to one child's diary",
)
async def submit(
    body: ApplicationBody, caller: Caller, applications: ApplicationsDep, response: Response
) -> Submitted:
    application_id = await applications.submit(caller, body.form())
    response.headers["Location"] = f"/applications/{application_id}"
    return Submitted(application_id=application_id)


@router.get("/applications", tags=["parents"], summary="My applications, newest first")
async def mine(caller: Caller, applications: ApplicationsDep) -> list[ApplicationView]:
    return [ApplicationView.of(row) for row in await applications.mine(caller)]


@router.get(
    "/applications/{application_id}",
    tags=["parents", "school staff"],
    summary="One application with its audit trail (the parent's own, or the school's)",
)
async def detail(application_id: UUID, caller: Caller, applications: ApplicationsDep) -> ApplicationDetail:
    view, trail = await applications.detail(caller, application_id)
    base = ApplicationView.of(view)
    return ApplicationDetail(
        **base.model_dump(),
        school_name=view.get("school_name"),
        audit_trail=[AuditEntry(**entry) for entry in trail],
    )


@router.post(
    "/applications/{application_id}/withdrawal",
    status_code=204,
    tags=["parents"],
    summary="Withdraw an application the school has not decided yet",
)
async def withdraw(application_id: UUID, caller: Caller, applications: ApplicationsDep) -> Response:
    await applications.withdraw(caller, application_id)
    return Response(status_code=204)


@router.post(
    "/applications/{application_id}/consent-withdrawal",
    status_code=204,
    tags=["parents"],
    summary="Withdraw the consent: ends the application and the access it gave",
)
async def withdraw_consent(application_id: UUID, caller: Caller, applications: ApplicationsDep) -> Response:
    await applications.withdraw_consent(caller, application_id)
    return Response(status_code=204)


# -- school staff --------------------------------------------------------------------------


@router.get(
    "/schools/{school_id}/applications",
    tags=["school staff"],
    summary="The school's applications, oldest first (pending ones by default)",
)
async def queue(
    school_id: UUID,
    caller: Caller,
    applications: ApplicationsDep,
    state: Annotated[Literal["pending", "approved", "rejected", "withdrawn", "all"], Query()] = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[datetime | None, Query(description="`next_after` of the previous page")] = None,
) -> Queue:
    rows = await applications.queue(
        caller, school_id, None if state == "all" else state, limit=limit, after=after
    )
    return Queue(
        items=[ApplicationView.of(r) for r in rows],
        next_after=rows[-1]["submitted_at"] if len(rows) == limit else None,
    )


@router.get(
    "/applications/{application_id}/candidates",
    tags=["school staff"],
    summary="Registry pupils of the school the application may be about, and what to check",
)
async def candidates(application_id: UUID, caller: Caller, applications: ApplicationsDep) -> Candidates:
    found = await applications.candidates(caller, application_id)
    return Candidates(
        application=ApplicationView.of(found.view),
        candidates=[
            CandidateView(
                pupil_id=c.pupil.pupil_id,
                surname=c.pupil.name.surname,
                first_name=c.pupil.name.first_name,
                patronymic=c.pupil.name.patronymic,
                birth_date=c.pupil.birth_date,
                class_id=c.pupil.class_id,
                class_name=c.pupil.class_name,
                closeness=c.closeness,
                surname_matches=c.surname_matches,
                first_name_matches=c.first_name_matches,
                patronymic_matches=c.patronymic_matches,
                birth_date_matches=c.birth_date_matches,
                in_named_class=c.in_named_class,
            )
            for c in found.candidates
        ],
        checks_in_person=found.checks,
    )


@router.post(
    "/applications/{application_id}/approval",
    status_code=204,
    tags=["school staff"],
    summary="Approve after checking the documents: links the parent to the pupil",
)
async def approve(
    application_id: UUID, body: ApprovalBody, caller: Caller, applications: ApplicationsDep
) -> Response:
    await applications.approve(caller, application_id, body.pupil_id)
    return Response(status_code=204)


@router.post(
    "/applications/{application_id}/rejection",
    status_code=204,
    tags=["school staff"],
    summary="Refuse with a reason from /rejection-reasons (and a comment for «other»)",
)
async def reject(
    application_id: UUID, body: RejectionBody, caller: Caller, applications: ApplicationsDep
) -> Response:
    await applications.reject(caller, application_id, body.reason, body.comment)
    return Response(status_code=204)


@router.post(
    "/applications/{application_id}/link-revocation",
    status_code=204,
    tags=["school staff"],
    summary="End the parent's access that this application gave",
)
async def revoke_link(application_id: UUID, caller: Caller, applications: ApplicationsDep) -> Response:
    await applications.revoke_link(caller, application_id)
    return Response(status_code=204)


def install_application_errors(app: FastAPI) -> None:
    install_refusals(app, ApplicationError)
