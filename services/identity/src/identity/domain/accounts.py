"""The account: an e-mail login, whether its owner proved the address, its roles and ESIA links.

Decisions only; the service layer loads the account from its events, calls one of these methods
and saves what it raised. Secrets (password hashes, link tokens) are not part of it: they live
in the credential tables, never in events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from diary_events.base import DomainEvent
from diary_events.identity import (
    AccountLocked,
    AccountRegistered,
    AccountRole,
    EmailConfirmed,
    EsiaAccountLinked,
    GrantSource,
    PasswordResetCompleted,
    PasswordResetRequested,
    PasswordSet,
    RegistrationMethod,
    RevocationReason,
    RoleGranted,
    RoleRevoked,
)
from diary_kernel.aggregate import Aggregate

SCHOOL_ROLES: frozenset[str] = frozenset({"pupil", "teacher", "school_staff"})
"""Roles that act for one school and so need its id."""
PERSON_ROLES: frozenset[str] = frozenset({"pupil", "teacher"})
"""Roles that are a person of the roster (the pupil_id or teacher_id is the actor id)."""
MAY_NAME_PERSON: frozenset[str] = PERSON_ROLES | {"school_staff"}
"""Roles that may name their roster person: staff are in the registry's staff list (as teachers),
which lets decisions they sign (e.g. approving an access application) name them."""


class IdentityError(Exception):
    """A request the identity service refuses; `field` names the input at fault."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(IdentityError):
    status = 409


class NotAllowed(IdentityError):
    status = 403


@dataclass(frozen=True, order=True)
class Grant:
    """One role of an account, with its scope."""

    role: AccountRole
    school_id: UUID | None = None
    person_id: UUID | None = None

    def validate(self) -> None:
        if self.role in SCHOOL_ROLES and self.school_id is None:
            raise IdentityError(f"the {self.role} role is scoped to a school", field="school_id")
        if self.role not in SCHOOL_ROLES and self.school_id is not None:
            raise IdentityError(f"the {self.role} role is not scoped to a school", field="school_id")
        if self.role in PERSON_ROLES and self.person_id is None:
            raise IdentityError(f"the {self.role} role needs the roster's person id", field="person_id")
        if self.role not in MAY_NAME_PERSON and self.person_id is not None:
            raise IdentityError(f"the {self.role} role is not a roster person", field="person_id")


class Account(Aggregate):
    stream_type: ClassVar[str] = "account"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.email = ""
        self.method: RegistrationMethod = "email"
        self.email_confirmed = False
        self.has_password = False
        self.grants: set[Grant] = set()
        self.esia_subjects: set[tuple[str, str]] = set()
        self.locked_until: datetime | None = None

    @property
    def account_id(self) -> UUID:
        return UUID(self.id)

    # -- decisions -------------------------------------------------------------------------

    def register(self, email: str, method: RegistrationMethod, now: datetime) -> None:
        if self.exists:
            raise Conflict("the account exists already")
        self.raise_event(
            AccountRegistered(account_id=self.account_id, email=email, method=method, registered_at=now)
        )
        if method in ("email", "esia"):
            # The portal is for parents: whoever signs up on their own does so as a parent.
            self.grant(Grant("parent"), "registration", None, now)

    def confirm_email(self, now: datetime, by: str = "link") -> None:
        if not self.email_confirmed:
            self.raise_event(
                EmailConfirmed(
                    account_id=self.account_id,
                    confirmed_at=now,
                    confirmed_by="esia" if by == "esia" else "link",
                )
            )

    def first_password(self, now: datetime) -> None:
        """Set by the owner who just confirmed the address (or accepted an invitation)."""
        if self.has_password:
            raise Conflict("the account has a password already; use password reset", field="token")
        self.raise_event(PasswordSet(account_id=self.account_id, set_at=now))

    def request_reset(self, now: datetime) -> None:
        self.raise_event(PasswordResetRequested(account_id=self.account_id, requested_at=now))

    def complete_reset(self, now: datetime, sessions_revoked: int) -> None:
        self.raise_event(
            PasswordResetCompleted(
                account_id=self.account_id, completed_at=now, sessions_revoked=sessions_revoked
            )
        )

    def link_esia(self, issuer: str, subject: str, now: datetime, *, new_account: bool) -> None:
        if (issuer, subject) in self.esia_subjects:
            return
        self.raise_event(
            EsiaAccountLinked(
                account_id=self.account_id,
                issuer=issuer,
                esia_subject=subject,
                linked_at=now,
                linked_by="new_account" if new_account else "verified_email",
            )
        )

    def grant(self, grant: Grant, source: GrantSource, by: UUID | None, now: datetime) -> bool:
        """Grant a role; granting one the account has is a no-op (False)."""
        grant.validate()
        if grant in self.grants:
            return False
        self.raise_event(
            RoleGranted(
                account_id=self.account_id,
                role=grant.role,
                school_id=grant.school_id,
                person_id=grant.person_id,
                granted_by=source,
                granted_by_account=by,
                granted_at=now,
            )
        )
        return True

    def revoke(self, grant: Grant, reason: RevocationReason, now: datetime) -> bool:
        if grant not in self.grants:
            return False
        self.raise_event(
            RoleRevoked(
                account_id=self.account_id,
                role=grant.role,
                school_id=grant.school_id,
                person_id=grant.person_id,
                reason=reason,
                revoked_at=now,
            )
        )
        return True

    def lock(self, until: datetime, failed_attempts: int) -> None:
        self.raise_event(
            AccountLocked(account_id=self.account_id, locked_until=until, failed_attempts=failed_attempts)
        )

    # -- state -----------------------------------------------------------------------------

    def when(self, event: DomainEvent) -> None:
        match event:
            case AccountRegistered():
                self.email = event.email
                self.method = event.method
            case EmailConfirmed():
                self.email_confirmed = True
            case PasswordSet() | PasswordResetCompleted():
                self.has_password = True
            case EsiaAccountLinked():
                self.esia_subjects.add((event.issuer, event.esia_subject))
            case RoleGranted():
                self.grants.add(Grant(event.role, event.school_id, event.person_id))
            case RoleRevoked():
                self.grants.discard(Grant(event.role, event.school_id, event.person_id))
            case AccountLocked():
                self.locked_until = event.locked_until
            case PasswordResetRequested():
                pass
