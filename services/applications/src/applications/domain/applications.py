"""The access application: one parent, one child, one school — and, once approved, the link.

Decisions only; the service layer loads an application from its events, calls one of these
methods and saves what it raised. The link is part of the application (it exists only because
the application was approved, and ends with its consent), so one stream orders both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal, get_args
from uuid import UUID

from diary_events.applications import (
    ApplicationApproved,
    ApplicationRejected,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    ConsentGiven,
    ConsentWithdrawn,
    DeciderRole,
    ParentLinked,
    ParentUnlinked,
    RejectionReason,
    Relation,
    UnlinkReason,
)
from diary_events.base import DomainEvent
from diary_events.personal import SealedPersonalData
from diary_kernel.aggregate import Aggregate

ApplicationState = Literal["pending", "approved", "rejected", "withdrawn"]

REJECTION_REASONS: dict[str, str] = {
    "documents_not_presented": "Заявитель не явился в школу или не предъявил паспорт",
    "applicant_mismatch": "Данные паспорта не совпадают с заявлением",
    "pupil_not_found": "Ученик не найден в реестре школы",
    "not_a_guardian": "Документы не подтверждают, что заявитель — родитель или законный представитель",
    "other": "Другая причина (указана в комментарии)",
}
"""Reasons a school may give, with the wording the parent reads."""
assert set(REJECTION_REASONS) == set(get_args(RejectionReason))

UNLINK_REASONS: dict[str, str] = {
    "consent_withdrawn": "Согласие на обработку персональных данных отозвано",
    "revoked_by_school": "Доступ отозван школой",
    "pupil_left_school": "Ученик выбыл из школы",
}
assert set(UNLINK_REASONS) == set(get_args(UnlinkReason))


class ApplicationError(Exception):
    """A request the applications service refuses; `field` names the input at fault."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(ApplicationError):
    status = 409


class NotFound(ApplicationError):
    """Also what a caller gets for an application that is not theirs to see."""

    status = 404


class NotAllowed(ApplicationError):
    status = 403


@dataclass(frozen=True)
class Decider:
    """Who decides: a school staff member (their account, and their roster person if known)."""

    account_id: UUID
    person_id: UUID | None = None
    role: DeciderRole = "school_staff"


class AccessApplication(Aggregate):
    stream_type: ClassVar[str] = "application"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.parent_account_id: UUID | None = None
        self.school_id: UUID | None = None
        self.relation: Relation = "parent"
        self.state: ApplicationState = "pending"
        self.consent_active = False
        self.pupil_id: UUID | None = None
        self.linked = False

    @property
    def application_id(self) -> UUID:
        return UUID(self.id)

    def _parent(self) -> UUID:
        assert self.parent_account_id is not None, "the application was never submitted"
        return self.parent_account_id

    def _school(self) -> UUID:
        assert self.school_id is not None, "the application was never submitted"
        return self.school_id

    # -- decisions -------------------------------------------------------------------------

    def submit(
        self,
        *,
        parent_account_id: UUID,
        school_id: UUID,
        class_id: UUID | None,
        relation: Relation,
        personal_data: SealedPersonalData,
        consent_version: str,
        now: datetime,
    ) -> None:
        if self.exists:
            raise Conflict("the application exists already")
        self.raise_event(
            ApplicationSubmitted(
                application_id=self.application_id,
                parent_account_id=parent_account_id,
                school_id=school_id,
                class_id=class_id,
                relation=relation,
                submitted_at=now,
                personal_data=personal_data,
            )
        )
        self.raise_event(
            ConsentGiven(
                application_id=self.application_id,
                parent_account_id=parent_account_id,
                consent_version=consent_version,
                given_at=now,
            )
        )

    def _pending(self) -> None:
        if self.state != "pending":
            raise Conflict(f"the application is {self.state} already; it cannot be changed")

    def withdraw(self, now: datetime) -> None:
        self._pending()
        self.raise_event(
            ApplicationWithdrawn(
                application_id=self.application_id,
                parent_account_id=self._parent(),
                school_id=self._school(),
                withdrawn_at=now,
            )
        )

    def approve(self, pupil_id: UUID, decider: Decider, now: datetime) -> None:
        self._pending()
        self.raise_event(
            ApplicationApproved(
                application_id=self.application_id,
                parent_account_id=self._parent(),
                school_id=self._school(),
                pupil_id=pupil_id,
                decided_by_account=decider.account_id,
                decided_by_person=decider.person_id,
                decided_as=decider.role,
                decided_at=now,
            )
        )
        self.raise_event(
            ParentLinked(
                application_id=self.application_id,
                parent_account_id=self._parent(),
                pupil_id=pupil_id,
                school_id=self._school(),
                relation=self.relation,
                linked_at=now,
            )
        )

    def reject(self, reason: RejectionReason, comment: str | None, decider: Decider, now: datetime) -> None:
        self._pending()
        comment = (comment or "").strip() or None
        if reason == "other" and comment is None:
            raise ApplicationError("say why in the comment when the reason is «other»", field="comment")
        self.raise_event(
            ApplicationRejected(
                application_id=self.application_id,
                parent_account_id=self._parent(),
                school_id=self._school(),
                reason=reason,
                comment=comment,
                decided_by_account=decider.account_id,
                decided_by_person=decider.person_id,
                decided_as=decider.role,
                decided_at=now,
            )
        )

    def withdraw_consent(self, now: datetime) -> None:
        """The parent takes the consent back: a pending application ends, a link ends."""
        if not self.consent_active:
            raise Conflict("the consent was withdrawn already")
        if self.state == "pending":
            self.withdraw(now)
        self.raise_event(
            ConsentWithdrawn(
                application_id=self.application_id, parent_account_id=self._parent(), withdrawn_at=now
            )
        )
        self.unlink("consent_withdrawn", None, now)

    def unlink(self, reason: UnlinkReason, by: UUID | None, now: datetime) -> bool:
        """End the link (idempotent: False when there is none)."""
        if not self.linked:
            return False
        assert self.pupil_id is not None
        self.raise_event(
            ParentUnlinked(
                application_id=self.application_id,
                parent_account_id=self._parent(),
                pupil_id=self.pupil_id,
                school_id=self._school(),
                reason=reason,
                unlinked_by_account=by,
                unlinked_at=now,
            )
        )
        return True

    # -- state -----------------------------------------------------------------------------

    def when(self, event: DomainEvent) -> None:
        match event:
            case ApplicationSubmitted():
                self.parent_account_id = event.parent_account_id
                self.school_id = event.school_id
                self.relation = event.relation
            case ConsentGiven():
                self.consent_active = True
            case ConsentWithdrawn():
                self.consent_active = False
            case ApplicationApproved():
                self.state = "approved"
                self.pupil_id = event.pupil_id
            case ApplicationRejected():
                self.state = "rejected"
            case ApplicationWithdrawn():
                self.state = "withdrawn"
            case ParentLinked():
                self.linked = True
            case ParentUnlinked():
                self.linked = False
