"""What identity needs of the school roster (gradebook events): who is a teacher or pupil where.

`RosterPeople` is a read model (rebuildable): which roster people may be given a teacher or
pupil role, checked when someone is invited. `RosterRoleEnd` is an inbound consumer: when the
roster says a teacher was dismissed or a pupil left a school, their role there is revoked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from diary_events.gradebook import (
    GRADEBOOK_EVENTS_TOPIC,
    PupilEnrolled,
    PupilLeftSchool,
    TeacherDismissed,
    TeacherRegistered,
)
from diary_kernel.aggregate import Repository
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope
from diary_kernel.eventstore import EventStore
from identity.adapters import directory
from identity.domain.accounts import Account, Grant

_INTERESTING = {
    cls.event_type for cls in (TeacherRegistered, TeacherDismissed, PupilEnrolled, PupilLeftSchool)
}


class RosterPeople:
    name = "identity.roster-people"
    topics: Sequence[str] = (GRADEBOOK_EVENTS_TOPIC,)
    tables: Sequence[str] = ("roster_people",)

    async def apply(self, conn: Connection, event: Envelope) -> None:
        if event.type not in _INTERESTING:
            return
        match event.decode():
            case TeacherRegistered(teacher_id=person, school_id=school):
                kind, active = "teacher", True
            case TeacherDismissed(teacher_id=person, school_id=school):
                kind, active = "teacher", False
            case PupilEnrolled(pupil_id=person, school_id=school):
                kind, active = "pupil", True
            case PupilLeftSchool(pupil_id=person, school_id=school):
                kind, active = "pupil", False
            case _:
                return
        await conn.execute(
            """INSERT INTO roster_people (person_id, kind, school_id, active) VALUES ($1, $2, $3, $4)
               ON CONFLICT (person_id, school_id) DO UPDATE SET kind = $2, active = $4""",
            person,
            kind,
            school,
            active,
        )


class RosterRoleEnd:
    name = "identity.roster-role-end"
    topics: Sequence[str] = (GRADEBOOK_EVENTS_TOPIC,)
    tables: Sequence[str] = ()

    def __init__(self, store: EventStore) -> None:
        self._accounts = Repository(store, Account)

    async def apply(self, conn: Connection, event: Envelope) -> None:
        if event.type not in (TeacherDismissed.event_type, PupilLeftSchool.event_type):
            return
        match event.decode():
            case TeacherDismissed(teacher_id=person, school_id=school):
                grant = Grant("teacher", school, person)
            case PupilLeftSchool(pupil_id=person, school_id=school):
                grant = Grant("pupil", school, person)
            case _:
                return
        now = datetime.now(UTC)
        for account_id in await directory.holders_of(conn, grant.role, person, school):
            account = await self._accounts.load(conn, str(account_id))
            if account.revoke(grant, "left_school", now):
                await directory.save_account(self._accounts, conn, account)
