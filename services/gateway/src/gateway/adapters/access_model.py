"""Read model "gateway.access": parent links, educations, classes and teaching assignments.

Built from `applications.events.v1` (ParentLinked / ParentUnlinked) and `gradebook.events.v1`
(enrolments, transfers, leaving, classes, teaching assignments) and nothing else, so it can be
rebuilt from the topics; the projector's inbox makes every event count once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from diary_events.applications import APPLICATIONS_EVENTS_TOPIC, ParentLinked, ParentUnlinked
from diary_events.gradebook import (
    GRADEBOOK_EVENTS_TOPIC,
    ClassChanged,
    ClassOpened,
    PupilEnrolled,
    PupilLeftSchool,
    PupilTransferred,
    TeacherAssigned,
    TeacherUnassigned,
)
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope
from gateway.domain.access import DiaryFacts

_INTERESTING = {
    cls.event_type
    for cls in (
        ParentLinked,
        ParentUnlinked,
        PupilEnrolled,
        PupilTransferred,
        PupilLeftSchool,
        ClassOpened,
        ClassChanged,
        TeacherAssigned,
        TeacherUnassigned,
    )
}


class AccessModel:
    name = "gateway.access"
    topics: Sequence[str] = (APPLICATIONS_EVENTS_TOPIC, GRADEBOOK_EVENTS_TOPIC)
    tables: Sequence[str] = ("access_links", "access_educations", "access_teaching", "access_classes")

    async def apply(self, conn: Connection, event: Envelope) -> None:
        if event.type not in _INTERESTING:
            return
        match event.decode():
            case ParentLinked() as linked:
                await _link(conn, linked.application_id, linked, linked=True, at=linked.linked_at)
            case ParentUnlinked() as unlinked:
                await _link(conn, unlinked.application_id, unlinked, linked=False, at=unlinked.unlinked_at)
            case PupilEnrolled() as enrolled:
                await _education(conn, enrolled.education_id, enrolled, enrolled.class_id, active=True)
            case PupilTransferred() as moved:
                await _education(conn, moved.education_id, moved, moved.to_class_id, active=True)
            case PupilLeftSchool() as left:
                await _education(conn, left.education_id, left, left.class_id, active=False)
            case ClassOpened() as klass:  # ClassChanged too
                await conn.execute(
                    """INSERT INTO access_classes (class_id, school_id, form_teacher_id) VALUES ($1, $2, $3)
                       ON CONFLICT (class_id) DO UPDATE SET form_teacher_id = EXCLUDED.form_teacher_id""",
                    klass.class_id,
                    klass.school_id,
                    klass.form_teacher_id,
                )
            case TeacherAssigned() as assignment:  # TeacherUnassigned too
                await conn.execute(
                    """INSERT INTO access_teaching (assignment_id, teacher_id, class_id, active)
                       VALUES ($1, $2, $3, $4)
                       ON CONFLICT (assignment_id) DO UPDATE SET active = EXCLUDED.active""",
                    assignment.assignment_id,
                    assignment.teacher_id,
                    assignment.class_id,
                    not isinstance(assignment, TeacherUnassigned),
                )


async def _link(
    conn: Connection,
    application_id: UUID,
    event: ParentLinked | ParentUnlinked,
    *,
    linked: bool,
    at: datetime,
) -> None:
    # A link's events share the application's key, so they arrive in order; the time guard keeps
    # a replayed older event from undoing a newer one all the same.
    await conn.execute(
        """INSERT INTO access_links
               (application_id, parent_account_id, pupil_id, school_id, linked, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (application_id) DO UPDATE
           SET linked = EXCLUDED.linked, changed_at = EXCLUDED.changed_at
           WHERE access_links.changed_at <= EXCLUDED.changed_at""",
        application_id,
        event.parent_account_id,
        event.pupil_id,
        event.school_id,
        linked,
        at,
    )


async def _education(
    conn: Connection,
    education_id: UUID,
    event: PupilEnrolled | PupilTransferred | PupilLeftSchool,
    class_id: UUID,
    *,
    active: bool,
) -> None:
    await conn.execute(
        """INSERT INTO access_educations (education_id, pupil_id, school_id, class_id, active)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (education_id) DO UPDATE SET class_id = EXCLUDED.class_id, active = EXCLUDED.active""",
        education_id,
        event.pupil_id,
        event.school_id,
        class_id,
        active,
    )


# -- queries -------------------------------------------------------------------------------


async def diary_facts(
    conn: Connection, education_id: UUID, account_id: UUID, teacher_ids: Sequence[UUID]
) -> DiaryFacts | None:
    """Everything `may_read_diary` needs about one education and one viewer, in one round trip."""
    row = await conn.fetchrow(
        """SELECT e.education_id, e.pupil_id, e.school_id, e.class_id, e.active,
                  EXISTS (SELECT 1 FROM access_links l
                          WHERE l.parent_account_id = $2 AND l.pupil_id = e.pupil_id
                            AND l.school_id = e.school_id AND l.linked) AS parent_linked,
                  ARRAY(SELECT t.teacher_id FROM access_teaching t
                        WHERE t.class_id = e.class_id AND t.active AND t.teacher_id = ANY($3::uuid[])
                        UNION
                        SELECT c.form_teacher_id FROM access_classes c
                        WHERE c.class_id = e.class_id AND c.form_teacher_id = ANY($3::uuid[])) AS taught_by
           FROM access_educations e WHERE e.education_id = $1""",
        education_id,
        account_id,
        list(teacher_ids),
    )
    if row is None:
        return None
    return DiaryFacts(
        education_id=row["education_id"],
        pupil_id=row["pupil_id"],
        school_id=row["school_id"],
        class_id=row["class_id"],
        active=row["active"],
        parent_linked=row["parent_linked"],
        taught_by=frozenset(row["taught_by"]),
    )


async def linked_pupils(conn: Connection, account_id: UUID) -> dict[UUID, set[UUID]]:
    """A parent's live links: pupil id → the schools where the link lets them read the diary."""
    rows = await conn.fetch(
        "SELECT pupil_id, school_id FROM access_links WHERE parent_account_id = $1 AND linked", account_id
    )
    found: dict[UUID, set[UUID]] = {}
    for row in rows:
        found.setdefault(row["pupil_id"], set()).add(row["school_id"])
    return found
