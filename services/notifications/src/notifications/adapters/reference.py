"""Read model "notifications.reference": the names a letter speaks of, and where to write.

Subjects, classes, schools and periods come from `gradebook.events.v1`, guardians' e-mail
addresses from `identity.events.v1` (an adult's login travels there in clear). The stream
carries ids; the letter is written with these names when it is delivered. Rebuildable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

from diary_events.gradebook import (
    GRADEBOOK_EVENTS_TOPIC,
    ClassOpened,
    SchoolRegistered,
    SchoolYearOpened,
    SubjectRegistered,
)
from diary_events.identity import IDENTITY_EVENTS_TOPIC, AccountRegistered
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope

_INTERESTING = {
    "diary.gradebook.SubjectRegistered.v1",
    "diary.gradebook.ClassOpened.v1",
    "diary.gradebook.ClassChanged.v1",
    "diary.gradebook.SchoolRegistered.v1",
    "diary.gradebook.SchoolChanged.v1",
    "diary.gradebook.SchoolYearOpened.v1",
    "diary.identity.AccountRegistered.v1",
}


class ReferenceNames:
    name = "notifications.reference"
    topics: Sequence[str] = (GRADEBOOK_EVENTS_TOPIC, IDENTITY_EVENTS_TOPIC)
    tables: Sequence[str] = (
        "reference_subjects",
        "reference_classes",
        "reference_schools",
        "reference_periods",
        "guardian_addresses",
    )

    async def apply(self, conn: Connection, event: Envelope) -> None:
        if event.type not in _INTERESTING:
            return
        match event.decode():
            case SubjectRegistered() as subject:
                await _name(conn, "reference_subjects", "subject_id", subject.subject_id, subject.name)
            case ClassOpened() as klass:
                await _name(conn, "reference_classes", "class_id", klass.class_id, klass.name)
            case SchoolRegistered() as school:
                await _name(conn, "reference_schools", "school_id", school.school_id, school.short_name)
            case SchoolYearOpened() as year:
                for period in year.periods:
                    await _name(conn, "reference_periods", "period_id", period.period_id, period.name)
            case AccountRegistered() as account:
                await _name(
                    conn, "guardian_addresses", "account_id", account.account_id, account.email, "email"
                )


async def _name(conn: Connection, table: str, key: str, value: UUID, name: str, column: str = "name") -> None:
    await conn.execute(
        f"""INSERT INTO {table} ({key}, {column}) VALUES ($1, $2)
            ON CONFLICT ({key}) DO UPDATE SET {column} = EXCLUDED.{column}""",
        value,
        name,
    )


async def names(conn: Connection, ids: Mapping[str, UUID | None]) -> dict[str, str]:
    """Look up `subject_id`, `class_id`, `school_id`, `period_id` at once; unknown ones are left out."""
    found: dict[str, str] = {}
    for field, table, key in (
        ("subject", "reference_subjects", "subject_id"),
        ("class_name", "reference_classes", "class_id"),
        ("school_name", "reference_schools", "school_id"),
        ("period_name", "reference_periods", "period_id"),
    ):
        value = ids.get(key)
        if value is None:
            continue
        name = await conn.fetchval(f"SELECT name FROM {table} WHERE {key} = $1", value)
        if name is not None:
            found[field] = name
    return found


async def address_of(conn: Connection, account_id: UUID) -> str | None:
    email: str | None = await conn.fetchval(
        "SELECT email FROM guardian_addresses WHERE account_id = $1", account_id
    )
    return email
