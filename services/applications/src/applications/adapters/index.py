"""The write side's look-ups the application streams cannot answer by id, kept in the same
transaction as the events: one open application per parent and child, one link per parent and
pupil (the database refuses the second), and which links a pupil has in a school.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from applications.domain.applications import AccessApplication, Conflict
from diary_kernel.aggregate import Repository
from diary_kernel.db import Connection


async def save_application(
    repo: Repository[AccessApplication],
    conn: Connection,
    application: AccessApplication,
    child_key: str | None = None,
) -> None:
    """Append the application's new events and bring its index row up to date."""
    await repo.save(conn, application, subject=str(application.parent_account_id))
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction decides
            await conn.execute(
                """INSERT INTO application_index (application_id, parent_account_id, school_id, child_key,
                       state, pupil_id, linked)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (application_id) DO UPDATE SET state = $5, pupil_id = $6, linked = $7,
                       updated_at = now()""",
                application.application_id,
                application.parent_account_id,
                application.school_id,
                child_key or "",
                application.state,
                application.pupil_id,
                application.linked,
            )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "application_index_one_link":
            raise Conflict("this parent is linked to this pupil already", field="pupil_id") from exc
        raise Conflict("there is an open application for this child already", field="child") from exc


async def child_status(conn: Connection, parent_account_id: UUID, child_key: str) -> str | None:
    """'linked' or 'pending' when the parent has such an application for this child, else None."""
    row = await conn.fetchrow(
        """SELECT bool_or(linked) AS linked, bool_or(state = 'pending') AS pending
           FROM application_index WHERE parent_account_id = $1 AND child_key = $2""",
        parent_account_id,
        child_key,
    )
    if row is None:
        return None
    if row["linked"]:
        return "linked"
    return "pending" if row["pending"] else None


async def linked_to_pupil_named(
    conn: Connection, parent_account_id: UUID, surname_key: str, first_name_key: str, birth_date: object
) -> bool:
    """The parent is linked already to a registry pupil with this name and birth date."""
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (
                   SELECT 1 FROM application_index i JOIN roster_pupils p ON p.pupil_id = i.pupil_id
                   WHERE i.parent_account_id = $1 AND i.linked AND p.surname_key = $2
                     AND p.first_name_key = $3 AND p.birth_date = $4)""",
            parent_account_id,
            surname_key,
            first_name_key,
            birth_date,
        )
    )


async def links_of_pupil(conn: Connection, pupil_id: UUID, school_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT application_id FROM application_index WHERE pupil_id = $1 AND school_id = $2 AND linked",
        pupil_id,
        school_id,
    )
    return [row["application_id"] for row in rows]
