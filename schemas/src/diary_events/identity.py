"""Events on `identity.events.v1`: accounts, their confirmed e-mail, credentials and roles.

Secrets never travel here: no password hashes, no confirmation or reset links, no tokens. The
e-mail address (an adult's login) travels in clear, as the other services need to write to
parents. Keyed by account id, so one account's events stay in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from diary_events.base import DomainEvent

IDENTITY_EVENTS_TOPIC = "identity.events.v1"

AccountRole = Literal["parent", "pupil", "teacher", "school_staff", "operator"]
"""What an account may do. Every role but parent and operator is scoped to one school."""

RegistrationMethod = Literal["email", "esia", "invitation"]
"""How the account came to be: self-registration by e-mail, a first ESIA login, or an invitation."""

GrantSource = Literal["registration", "operator", "school_staff"]
RevocationReason = Literal["operator", "school_staff", "left_school"]


class IdentityEvent(DomainEvent):
    topic: ClassVar[str] = IDENTITY_EVENTS_TOPIC
    key_description: ClassVar[str] = "Account id: one account's events stay in order"


class AccountRegistered(IdentityEvent):
    """An account was created for an e-mail address; the address is its login for good."""

    event_type: ClassVar[str] = "diary.identity.AccountRegistered.v1"

    account_id: UUID
    email: str = Field(description="Normalised (trimmed, lower-case) e-mail address: the login.")
    method: RegistrationMethod
    registered_at: datetime


class EmailConfirmed(IdentityEvent):
    """The owner of the address proved it (a confirmation link, or ESIA's verified e-mail)."""

    event_type: ClassVar[str] = "diary.identity.EmailConfirmed.v1"

    account_id: UUID
    confirmed_at: datetime
    confirmed_by: Literal["link", "esia"] = "link"


class PasswordSet(IdentityEvent):
    """The account got its first password (after confirming the e-mail or accepting an invitation)."""

    event_type: ClassVar[str] = "diary.identity.PasswordSet.v1"

    account_id: UUID
    set_at: datetime


class PasswordResetRequested(IdentityEvent):
    """Someone asked for a reset link for this account (the link itself went by e-mail only)."""

    event_type: ClassVar[str] = "diary.identity.PasswordResetRequested.v1"

    account_id: UUID
    requested_at: datetime


class PasswordResetCompleted(IdentityEvent):
    """A reset link was used: the password changed and every earlier session was revoked."""

    event_type: ClassVar[str] = "diary.identity.PasswordResetCompleted.v1"

    account_id: UUID
    completed_at: datetime
    sessions_revoked: int = Field(ge=0)


class EsiaAccountLinked(IdentityEvent):
    """An ESIA (Gosuslugi) identity now signs in to this account."""

    event_type: ClassVar[str] = "diary.identity.EsiaAccountLinked.v1"

    account_id: UUID
    issuer: str
    esia_subject: str = Field(description="The provider's stable subject id (ESIA's oid).")
    linked_at: datetime
    linked_by: Literal["verified_email", "new_account"] = Field(
        description="Matched to an existing account by the verified e-mail, or created with it."
    )


class RoleGranted(IdentityEvent):
    """The account may act in a role; `school_id` and `person_id` scope it where that applies."""

    event_type: ClassVar[str] = "diary.identity.RoleGranted.v1"

    account_id: UUID
    role: AccountRole
    school_id: UUID | None = None
    person_id: UUID | None = Field(
        default=None, description="The roster's teacher_id (teacher) or pupil_id (pupil)."
    )
    granted_by: GrantSource
    granted_by_account: UUID | None = None
    granted_at: datetime


class RoleRevoked(IdentityEvent):
    """A role granted earlier ends (an operator's decision, or the teacher left the school)."""

    event_type: ClassVar[str] = "diary.identity.RoleRevoked.v1"

    account_id: UUID
    role: AccountRole
    school_id: UUID | None = None
    person_id: UUID | None = None
    reason: RevocationReason
    revoked_at: datetime


class AccountLocked(IdentityEvent):
    """Too many failed logins: password logins are refused until `locked_until`."""

    event_type: ClassVar[str] = "diary.identity.AccountLocked.v1"

    account_id: UUID
    locked_until: datetime
    failed_attempts: int = Field(ge=1)
