"""Events on `applications.events.v1`: parents' access applications, consents and parent links.

A parent asks a school for access to one child's diary (an «заявление»); the school checks the
parent's passport and the registry in person and approves (linking one registry pupil) or
refuses. Only ids travel in clear: the names the parent typed are sealed under a key of the
application's own (`personal_data`), and passport data is never recorded at all. Keyed by
application id, so one application's events (and its link's) stay in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from diary_events.base import DomainEvent
from diary_events.personal import SealedPersonalData

APPLICATIONS_EVENTS_TOPIC = "applications.events.v1"

Relation = Literal["parent", "guardian"]
"""Who the applicant is to the child: a parent, or another legal guardian («законный представитель»)."""

RejectionReason = Literal[
    "documents_not_presented",
    "applicant_mismatch",
    "pupil_not_found",
    "not_a_guardian",
    "other",
]
"""Why a school refused: the applicant did not come or brought no passport; the passport does not
match the application; no such pupil in the school's registry; the documents do not show the
applicant is the child's parent or guardian; anything else (then a comment is required)."""

UnlinkReason = Literal["consent_withdrawn", "revoked_by_school", "pupil_left_school"]

DeciderRole = Literal["school_staff", "operator"]


class ApplicationEvent(DomainEvent):
    topic: ClassVar[str] = APPLICATIONS_EVENTS_TOPIC
    key_description: ClassVar[str] = "Application id: an application's events and its link's stay in order"


class ApplicationSubmitted(ApplicationEvent):
    """A parent asked a school for access to one child's diary."""

    event_type: ClassVar[str] = "diary.applications.ApplicationSubmitted.v1"

    application_id: UUID
    parent_account_id: UUID
    school_id: UUID
    class_id: UUID | None = Field(default=None, description="The class the parent named, if any.")
    relation: Relation
    submitted_at: datetime
    personal_data: SealedPersonalData = Field(
        description=(
            "Sealed JSON under the application's key: `child` {surname, first_name, patronymic, "
            "birth_date} and `applicant` {surname, first_name, patronymic}."
        )
    )


class ConsentGiven(ApplicationEvent):
    """The applicant consented to the processing of personal data (152-FZ) with the application."""

    event_type: ClassVar[str] = "diary.applications.ConsentGiven.v1"

    application_id: UUID
    parent_account_id: UUID
    consent_version: str = Field(description="Version of the consent text the applicant accepted.")
    given_at: datetime


class ConsentWithdrawn(ApplicationEvent):
    """The applicant withdrew the consent: the application ends, and so does its link."""

    event_type: ClassVar[str] = "diary.applications.ConsentWithdrawn.v1"

    application_id: UUID
    parent_account_id: UUID
    withdrawn_at: datetime


class ApplicationApproved(ApplicationEvent):
    """The school checked the documents in person and matched the application to a registry pupil."""

    event_type: ClassVar[str] = "diary.applications.ApplicationApproved.v1"

    application_id: UUID
    parent_account_id: UUID
    school_id: UUID
    pupil_id: UUID
    decided_by_account: UUID
    decided_by_person: UUID | None = Field(default=None, description="The staff member in the roster.")
    decided_as: DeciderRole = "school_staff"
    decided_at: datetime


class ApplicationRejected(ApplicationEvent):
    """The school refused the application, with a reason from the list and an optional comment."""

    event_type: ClassVar[str] = "diary.applications.ApplicationRejected.v1"

    application_id: UUID
    parent_account_id: UUID
    school_id: UUID
    reason: RejectionReason
    comment: str | None = Field(default=None, max_length=1000)
    decided_by_account: UUID
    decided_by_person: UUID | None = None
    decided_as: DeciderRole = "school_staff"
    decided_at: datetime


class ApplicationWithdrawn(ApplicationEvent):
    """The parent withdrew an application the school had not decided yet."""

    event_type: ClassVar[str] = "diary.applications.ApplicationWithdrawn.v1"

    application_id: UUID
    parent_account_id: UUID
    school_id: UUID
    withdrawn_at: datetime


class ParentLinked(ApplicationEvent):
    """From now on the parent may see the pupil's diary in this school."""

    event_type: ClassVar[str] = "diary.applications.ParentLinked.v1"

    application_id: UUID = Field(description="The approved application; it identifies the link.")
    parent_account_id: UUID
    pupil_id: UUID
    school_id: UUID
    relation: Relation
    linked_at: datetime


class ParentUnlinked(ApplicationEvent):
    """From now on the parent may no longer see the pupil's diary in this school."""

    event_type: ClassVar[str] = "diary.applications.ParentUnlinked.v1"

    application_id: UUID
    parent_account_id: UUID
    pupil_id: UUID
    school_id: UUID
    reason: UnlinkReason
    unlinked_by_account: UUID | None = Field(default=None, description="Staff who revoked it, if any.")
    unlinked_at: datetime
