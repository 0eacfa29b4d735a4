"""The use cases of access applications: what a parent and a school's staff may do, and checks.

Writes go through the application's event stream (and the index, in the same transaction);
reads come from the read models. Whoever may not see an application gets "not found", never a
hint that it exists.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from applications.adapters import index, roster, views
from applications.domain.applications import (
    AccessApplication,
    ApplicationError,
    Conflict,
    Decider,
    NotAllowed,
    NotFound,
)
from applications.domain.consent import CONSENT_TEXTS, CURRENT_CONSENT
from applications.domain.matching import Candidate, candidates, checks_in_person
from applications.domain.names import Child, PersonName
from diary_events.applications import RejectionReason, Relation
from diary_kernel.access_tokens import AccessClaims
from diary_kernel.aggregate import Repository
from diary_kernel.db import Connection, Pool
from diary_kernel.eventstore import EventStore
from diary_kernel.personal_data import PersonalDataKeys, seal


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ApplicationForm:
    child: Child
    applicant: PersonName
    school_id: UUID
    class_id: UUID | None
    relation: Relation
    consent_version: str
    consent_accepted: bool


@dataclass(frozen=True)
class CandidateList:
    view: dict[str, Any]
    candidates: list[Candidate]
    checks: list[str]


class Applications:
    def __init__(self, pool: Pool, store: EventStore) -> None:
        self._pool = pool
        self._repo = Repository(store, AccessApplication)
        self._keys = PersonalDataKeys()

    # -- parents ---------------------------------------------------------------------------

    async def submit(self, caller: AccessClaims, form: ApplicationForm, now: datetime | None = None) -> UUID:
        _parent(caller)
        now = now or utc_now()
        if not form.consent_accepted:
            raise ApplicationError(
                "the application needs the consent to personal data processing", field="consent.accepted"
            )
        if form.consent_version not in CONSENT_TEXTS:
            raise ApplicationError(
                f"unknown consent text version; the current one is {CURRENT_CONSENT.version}",
                field="consent.version",
            )
        if form.child.birth_date >= now.date():
            raise ApplicationError("the birth date must be in the past", field="child.birth_date")
        application_id = uuid.uuid4()
        key = form.child.key()
        async with self._pool.acquire() as conn, conn.transaction():
            if await roster.school(conn, form.school_id) is None:
                raise ApplicationError("no such open school", field="school_id")
            if form.class_id is not None:
                klass = await roster.class_info(conn, form.class_id)
                if klass is None or klass.school_id != form.school_id:
                    raise ApplicationError("no such class in this school", field="class_id")
            status = await index.child_status(conn, caller.account_id, key)
            surname, first_name, _ = form.child.name.normalised()
            if status == "linked" or await index.linked_to_pupil_named(
                conn, caller.account_id, surname, first_name, form.child.birth_date
            ):
                raise Conflict("you have access to this child's diary already", field="child")
            if status == "pending":
                raise Conflict(
                    "there is an open application for this child already; wait for the school's "
                    "decision or withdraw it",
                    field="child",
                )
            key_id, secret = await self._keys.key_for(conn, str(application_id))
            sealed = seal(
                {
                    "child": _person(form.child.name) | {"birth_date": form.child.birth_date.isoformat()},
                    "applicant": _person(form.applicant),
                },
                key_id=key_id,
                key=secret,
                subject_id=str(application_id),
            )
            application = AccessApplication(str(application_id))
            application.submit(
                parent_account_id=caller.account_id,
                school_id=form.school_id,
                class_id=form.class_id,
                relation=form.relation,
                personal_data=sealed,
                consent_version=form.consent_version,
                now=now,
            )
            await index.save_application(self._repo, conn, application, child_key=key)
        return application_id

    async def withdraw(self, caller: AccessClaims, application_id: UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            application = await self._own(conn, caller, application_id)
            application.withdraw(utc_now())
            await index.save_application(self._repo, conn, application)

    async def withdraw_consent(self, caller: AccessClaims, application_id: UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            application = await self._own(conn, caller, application_id)
            application.withdraw_consent(utc_now())
            await index.save_application(self._repo, conn, application)

    async def mine(self, caller: AccessClaims) -> list[dict[str, Any]]:
        _parent(caller)
        async with self._pool.acquire() as conn:
            return await views.of_parent(conn, caller.account_id)

    # -- school staff ----------------------------------------------------------------------

    async def queue(
        self, caller: AccessClaims, school_id: UUID, state: str | None, *, limit: int, after: datetime | None
    ) -> list[dict[str, Any]]:
        _staff_of(caller, school_id)
        async with self._pool.acquire() as conn:
            return await views.of_school(conn, school_id, state, limit=limit, after=after)

    async def candidates(self, caller: AccessClaims, application_id: UUID) -> CandidateList:
        async with self._pool.acquire() as conn:
            view = await views.view(conn, application_id)
            if view is None or not _is_staff_of(caller, view["school_id"]):
                raise NotFound("no such application")
            child_data, applicant_data = view.get("child"), view.get("applicant")
            if not child_data or not applicant_data:
                return CandidateList(view, [], [])
            child = Child(_name(child_data), datetime.fromisoformat(child_data["birth_date"]).date())
            pupils = await roster.pupils_like(conn, view["school_id"], child)
        found = candidates(child, pupils, view.get("class_id"))
        return CandidateList(view, found, checks_in_person(_name(applicant_data), view["relation"], child))

    async def approve(self, caller: AccessClaims, application_id: UUID, pupil_id: UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            application = await self._at_school_of(conn, caller, application_id)
            assert application.school_id is not None
            if not await roster.is_enrolled(conn, pupil_id, application.school_id):
                raise ApplicationError("this pupil is not enrolled in the school", field="pupil_id")
            application.approve(pupil_id, _decider(caller, application.school_id), utc_now())
            await index.save_application(self._repo, conn, application)

    async def reject(
        self, caller: AccessClaims, application_id: UUID, reason: RejectionReason, comment: str | None
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            application = await self._at_school_of(conn, caller, application_id)
            assert application.school_id is not None
            application.reject(reason, comment, _decider(caller, application.school_id), utc_now())
            await index.save_application(self._repo, conn, application)

    async def revoke_link(self, caller: AccessClaims, application_id: UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            application = await self._at_school_of(conn, caller, application_id)
            if not application.unlink("revoked_by_school", caller.account_id, utc_now()):
                raise Conflict("the parent is not linked through this application", field="application_id")
            await index.save_application(self._repo, conn, application)

    # -- both ------------------------------------------------------------------------------

    async def detail(
        self, caller: AccessClaims, application_id: UUID
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The application and its audit trail, with the deciding staff member named."""
        async with self._pool.acquire() as conn:
            view = await views.view(conn, application_id)
            if view is None or not (
                view["parent_account_id"] == caller.account_id or _is_staff_of(caller, view["school_id"])
            ):
                raise NotFound("no such application")
            trail = await views.history(conn, application_id)
            for entry in trail:
                person = entry.get("actor_person")
                named = await roster.staff_member(conn, person, view["school_id"]) if person else None
                entry["actor_name"], entry["actor_position"] = named if named else (None, None)
            school = await roster.school(conn, view["school_id"])
            view["school_name"] = school.name if school else None
        return view, trail

    # -- helpers ---------------------------------------------------------------------------

    async def _own(self, conn: Connection, caller: AccessClaims, application_id: UUID) -> AccessApplication:
        application = await self._repo.load(conn, str(application_id))
        if not application.exists or application.parent_account_id != caller.account_id:
            raise NotFound("no such application")
        return application

    async def _at_school_of(
        self, conn: Connection, caller: AccessClaims, application_id: UUID
    ) -> AccessApplication:
        application = await self._repo.load(conn, str(application_id))
        if not application.exists or not _is_staff_of(caller, application.school_id):
            raise NotFound("no such application")
        return application


def _parent(caller: AccessClaims) -> None:
    if not caller.has_role("parent"):
        raise NotAllowed("only a parent's account files applications")


def _is_staff_of(caller: AccessClaims, school_id: UUID | None) -> bool:
    return school_id is not None and caller.has_role("school_staff", school_id)


def _staff_of(caller: AccessClaims, school_id: UUID) -> None:
    if not _is_staff_of(caller, school_id):
        raise NotAllowed("only the school's staff see its applications")


def _decider(caller: AccessClaims, school_id: UUID) -> Decider:
    person = next(
        (r.person_id for r in caller.roles if r.role == "school_staff" and r.school_id == school_id), None
    )
    return Decider(caller.account_id, person)


def _person(name: PersonName) -> dict[str, Any]:
    return {"surname": name.surname, "first_name": name.first_name, "patronymic": name.patronymic}


def _name(data: dict[str, Any]) -> PersonName:
    return PersonName(data["surname"], data["first_name"], data.get("patronymic"))


async def end_links_of_pupil(
    repo: Repository[AccessApplication], conn: Connection, pupil_id: UUID, school_id: UUID, now: datetime
) -> int:
    """The pupil left the school: end every parent link to them there (in the caller's transaction)."""
    ended = 0
    for application_id in await index.links_of_pupil(conn, pupil_id, school_id):
        application = await repo.load(conn, str(application_id))
        if application.unlink("pupil_left_school", None, now):
            await index.save_application(repo, conn, application)
            ended += 1
    return ended
