"""Read model "applications.views": applications as parents and staff see them, and the audit trail.

Built from applications.events.v1 alone (rebuildable). The names in an application are opened
here with the application's key, so the sealed events stay the only durable copy: erasing the
key and rebuilding leaves the names out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from diary_events.applications import (
    APPLICATIONS_EVENTS_TOPIC,
    ApplicationApproved,
    ApplicationRejected,
    ApplicationSubmitted,
    ApplicationWithdrawn,
    ConsentGiven,
    ConsentWithdrawn,
    ParentLinked,
    ParentUnlinked,
)
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope
from diary_kernel.personal_data import PersonalDataErased, PersonalDataKeys
from diary_kernel.projector import RejectedEvent


class ApplicationViews:
    name = "applications.views"
    topics: Sequence[str] = (APPLICATIONS_EVENTS_TOPIC,)
    tables: Sequence[str] = ("application_views", "application_history")

    def __init__(self) -> None:
        self._keys = PersonalDataKeys()

    async def apply(self, conn: Connection, event: Envelope) -> None:
        match event.decode():
            case ApplicationSubmitted() as submitted:
                await self._submitted(conn, submitted)
                await _history(
                    conn, event, submitted.application_id, "submitted", "parent", submitted.parent_account_id
                )
            case ConsentGiven() as given:
                await _update(
                    conn,
                    given.application_id,
                    given.given_at,
                    consent_version=given.consent_version,
                    consent_given_at=given.given_at,
                )
                await _history(
                    conn,
                    event,
                    given.application_id,
                    "consent_given",
                    "parent",
                    given.parent_account_id,
                    {"consent_version": given.consent_version},
                )
            case ConsentWithdrawn() as withdrawn:
                await _update(
                    conn,
                    withdrawn.application_id,
                    withdrawn.withdrawn_at,
                    consent_withdrawn_at=withdrawn.withdrawn_at,
                )
                await _history(
                    conn,
                    event,
                    withdrawn.application_id,
                    "consent_withdrawn",
                    "parent",
                    withdrawn.parent_account_id,
                )
            case ApplicationApproved() as approved:
                await _update(
                    conn,
                    approved.application_id,
                    approved.decided_at,
                    state="approved",
                    decided_at=approved.decided_at,
                    pupil_id=approved.pupil_id,
                )
                await _history(
                    conn,
                    event,
                    approved.application_id,
                    "approved",
                    approved.decided_as,
                    approved.decided_by_account,
                    person=approved.decided_by_person,
                )
            case ApplicationRejected() as rejected:
                await _update(
                    conn,
                    rejected.application_id,
                    rejected.decided_at,
                    state="rejected",
                    decided_at=rejected.decided_at,
                    rejection_reason=rejected.reason,
                    rejection_comment=rejected.comment,
                )
                await _history(
                    conn,
                    event,
                    rejected.application_id,
                    "rejected",
                    rejected.decided_as,
                    rejected.decided_by_account,
                    {"reason": rejected.reason, "comment": rejected.comment},
                    person=rejected.decided_by_person,
                )
            case ApplicationWithdrawn() as gone:
                await _update(conn, gone.application_id, gone.withdrawn_at, state="withdrawn")
                await _history(
                    conn, event, gone.application_id, "withdrawn", "parent", gone.parent_account_id
                )
            case ParentLinked() as linked:
                await _update(
                    conn,
                    linked.application_id,
                    linked.linked_at,
                    linked=True,
                    linked_at=linked.linked_at,
                    unlinked_at=None,
                    unlink_reason=None,
                )
                await _history(
                    conn,
                    event,
                    linked.application_id,
                    "linked",
                    "system",
                    None,
                    {"pupil_id": str(linked.pupil_id)},
                )
            case ParentUnlinked() as unlinked:
                await _update(
                    conn,
                    unlinked.application_id,
                    unlinked.unlinked_at,
                    linked=False,
                    unlinked_at=unlinked.unlinked_at,
                    unlink_reason=unlinked.reason,
                )
                by_staff = unlinked.unlinked_by_account is not None
                await _history(
                    conn,
                    event,
                    unlinked.application_id,
                    "unlinked",
                    "school_staff" if by_staff else "system",
                    unlinked.unlinked_by_account,
                    {"reason": unlinked.reason},
                )
            case _:
                return

    async def _submitted(self, conn: Connection, submitted: ApplicationSubmitted) -> None:
        child: dict[str, Any] | None
        applicant: dict[str, Any] | None
        try:
            data = await self._keys.open(conn, submitted.personal_data, str(submitted.application_id))
            child, applicant = data.get("child"), data.get("applicant")
        except PersonalDataErased:
            child = applicant = None
        except ValueError as exc:
            raise RejectedEvent(f"application {submitted.application_id}: sealed data does not open") from exc
        await conn.execute(
            """INSERT INTO application_views (application_id, parent_account_id, school_id, class_id,
                   relation, state, child, applicant, submitted_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $8)
               ON CONFLICT (application_id) DO NOTHING""",
            submitted.application_id,
            submitted.parent_account_id,
            submitted.school_id,
            submitted.class_id,
            submitted.relation,
            orjson.dumps(child).decode() if child else None,
            orjson.dumps(applicant).decode() if applicant else None,
            submitted.submitted_at,
        )


_COLUMNS = {
    "state",
    "consent_version",
    "consent_given_at",
    "consent_withdrawn_at",
    "decided_at",
    "rejection_reason",
    "rejection_comment",
    "pupil_id",
    "linked",
    "linked_at",
    "unlinked_at",
    "unlink_reason",
}


async def _update(conn: Connection, application_id: UUID, at: datetime, **values: Any) -> None:
    assert set(values) <= _COLUMNS
    names = list(values)
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(names, start=3))
    status = await conn.execute(
        f"UPDATE application_views SET updated_at = $2, {assignments} WHERE application_id = $1",
        application_id,
        at,
        *values.values(),
    )
    if status.endswith(" 0"):
        raise RejectedEvent(f"application {application_id} was never submitted")


async def _history(
    conn: Connection,
    event: Envelope,
    application_id: UUID,
    action: str,
    actor_role: str,
    actor_account: UUID | None,
    detail: dict[str, Any] | None = None,
    *,
    person: UUID | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO application_history (event_id, application_id, at, action, actor_role,
               actor_account, actor_person, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING""",
        event.id,
        application_id,
        event.time,
        action,
        actor_role,
        actor_account,
        person,
        orjson.dumps({k: v for k, v in (detail or {}).items() if v is not None}).decode(),
    )


# -- queries -------------------------------------------------------------------------------


async def view(conn: Connection, application_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM application_views WHERE application_id = $1", application_id)
    return _decoded(row) if row else None


async def of_parent(conn: Connection, parent_account_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM application_views WHERE parent_account_id = $1 ORDER BY submitted_at DESC",
        parent_account_id,
    )
    return [_decoded(row) for row in rows]


async def of_school(
    conn: Connection, school_id: UUID, state: str | None, *, limit: int, after: datetime | None
) -> list[dict[str, Any]]:
    """The school's applications, oldest first (a queue), `limit` at a time after `after`."""
    rows = await conn.fetch(
        """SELECT * FROM application_views
           WHERE school_id = $1 AND ($2::text IS NULL OR state = $2)
             AND ($3::timestamptz IS NULL OR submitted_at > $3)
           ORDER BY submitted_at, application_id LIMIT $4""",
        school_id,
        state,
        after,
        limit,
    )
    return [_decoded(row) for row in rows]


async def history(conn: Connection, application_id: UUID) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT at, action, actor_role, actor_account, actor_person, detail FROM application_history
           WHERE application_id = $1 ORDER BY at, event_id""",
        application_id,
    )
    return [_decoded(row) for row in rows]


def _decoded(row: Any) -> dict[str, Any]:
    item = dict(row)
    for key in ("child", "applicant", "detail"):
        if isinstance(item.get(key), str):
            item[key] = orjson.loads(item[key])
    return item
