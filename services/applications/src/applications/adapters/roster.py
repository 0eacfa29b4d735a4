"""Read model "applications.roster": what the school needs to match an application to a pupil.

Pupils' names come from the school registry's own topic (the only place they travel in clear;
gradebook's events carry them sealed under keys only gradebook holds); enrolments, classes,
schools and staff come from gradebook.events.v1. Rebuildable from both topics; a pupil erased
here (`erase_pupil`) stays erased whatever the registry re-sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from applications.domain.matching import RegistryPupil
from applications.domain.names import Child, PersonName, normalise_name
from diary_events.gradebook import (
    GRADEBOOK_EVENTS_TOPIC,
    ClassChanged,
    ClassClosed,
    ClassOpened,
    PupilEnrolled,
    PupilLeftSchool,
    PupilTransferred,
    SchoolChanged,
    SchoolClosed,
    SchoolRegistered,
    TeacherDismissed,
    TeacherRegistered,
)
from diary_events.registry import REGISTRY_ROSTER_TOPIC, PupilRecord
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope

_INTERESTING = {
    cls.event_type
    for cls in (
        PupilRecord,
        SchoolRegistered,
        SchoolChanged,
        SchoolClosed,
        ClassOpened,
        ClassChanged,
        ClassClosed,
        PupilEnrolled,
        PupilTransferred,
        PupilLeftSchool,
        TeacherRegistered,
        TeacherDismissed,
    )
}


class RosterForMatching:
    name = "applications.roster"
    topics: Sequence[str] = (REGISTRY_ROSTER_TOPIC, GRADEBOOK_EVENTS_TOPIC)
    tables: Sequence[str] = (
        "roster_schools",
        "roster_classes",
        "roster_pupils",
        "roster_enrolments",
        "roster_staff",
    )

    async def apply(self, conn: Connection, event: Envelope) -> None:
        if event.type not in _INTERESTING:
            return
        match event.decode():
            case PupilRecord() as pupil:
                await conn.execute(
                    """INSERT INTO roster_pupils (pupil_id, surname, first_name, patronymic, birth_date,
                           surname_key, first_name_key, revision)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                       ON CONFLICT (pupil_id) DO UPDATE SET surname = EXCLUDED.surname,
                           first_name = EXCLUDED.first_name, patronymic = EXCLUDED.patronymic,
                           birth_date = EXCLUDED.birth_date, surname_key = EXCLUDED.surname_key,
                           first_name_key = EXCLUDED.first_name_key, revision = EXCLUDED.revision
                       WHERE NOT roster_pupils.erased AND roster_pupils.revision < EXCLUDED.revision""",
                    pupil.pupil_id,
                    pupil.surname,
                    pupil.first_name,
                    pupil.patronymic,
                    pupil.birth_date,
                    normalise_name(pupil.surname),
                    normalise_name(pupil.first_name),
                    pupil.revision,
                )
            case SchoolRegistered() as registered:  # SchoolChanged too
                await conn.execute(
                    """INSERT INTO roster_schools (school_id, name, short_name, district_name)
                       VALUES ($1, $2, $3, $4)
                       ON CONFLICT (school_id) DO UPDATE
                       SET name = $2, short_name = $3, district_name = $4""",
                    registered.school_id,
                    registered.name,
                    registered.short_name,
                    registered.district_name,
                )
            case SchoolClosed(school_id=school_id):
                await conn.execute("UPDATE roster_schools SET closed = true WHERE school_id = $1", school_id)
            case ClassOpened() as klass:  # ClassChanged too
                await conn.execute(
                    """INSERT INTO roster_classes (class_id, school_id, school_year_id, grade, name)
                       VALUES ($1, $2, $3, $4, $5)
                       ON CONFLICT (class_id) DO UPDATE SET school_year_id = $3, grade = $4, name = $5""",
                    klass.class_id,
                    klass.school_id,
                    klass.school_year_id,
                    klass.grade,
                    klass.name,
                )
            case ClassClosed(class_id=class_id):
                await conn.execute("UPDATE roster_classes SET closed = true WHERE class_id = $1", class_id)
            case PupilEnrolled() as enrolled:
                await _enrolment(
                    conn,
                    enrolled.education_id,
                    enrolled.pupil_id,
                    enrolled.school_id,
                    enrolled.class_id,
                    active=True,
                )
            case PupilTransferred() as moved:
                await _enrolment(
                    conn, moved.education_id, moved.pupil_id, moved.school_id, moved.to_class_id, active=True
                )
            case PupilLeftSchool() as left:
                await _enrolment(
                    conn, left.education_id, left.pupil_id, left.school_id, left.class_id, active=False
                )
            case TeacherRegistered() as teacher:
                await conn.execute(
                    """INSERT INTO roster_staff
                           (person_id, school_id, surname, first_name, patronymic, position)
                       VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (person_id, school_id) DO UPDATE SET surname = $3, first_name = $4,
                           patronymic = $5, position = $6""",
                    teacher.teacher_id,
                    teacher.school_id,
                    teacher.surname,
                    teacher.first_name,
                    teacher.patronymic,
                    teacher.position,
                )
            case TeacherDismissed():
                pass  # a dismissed teacher's past decisions still name them


async def _enrolment(
    conn: Connection, education_id: UUID, pupil_id: UUID, school_id: UUID, class_id: UUID, *, active: bool
) -> None:
    await conn.execute(
        """INSERT INTO roster_enrolments (education_id, pupil_id, school_id, class_id, active)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (education_id) DO UPDATE SET class_id = $4, active = $5""",
        education_id,
        pupil_id,
        school_id,
        class_id,
        active,
    )


# -- queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchoolInfo:
    school_id: UUID
    name: str
    short_name: str
    district_name: str


@dataclass(frozen=True)
class ClassInfo:
    class_id: UUID
    school_id: UUID
    grade: int
    name: str


async def open_schools(conn: Connection) -> list[SchoolInfo]:
    rows = await conn.fetch(
        """SELECT school_id, name, short_name, district_name FROM roster_schools
           WHERE NOT closed ORDER BY district_name, name"""
    )
    return [SchoolInfo(**dict(row)) for row in rows]


async def school(conn: Connection, school_id: UUID) -> SchoolInfo | None:
    row = await conn.fetchrow(
        """SELECT school_id, name, short_name, district_name FROM roster_schools
           WHERE school_id = $1 AND NOT closed""",
        school_id,
    )
    return SchoolInfo(**dict(row)) if row else None


async def classes_of(conn: Connection, school_id: UUID) -> list[ClassInfo]:
    """Open classes of the school's newest school year (the one parents apply for)."""
    rows = await conn.fetch(
        """SELECT class_id, school_id, grade, name FROM roster_classes
           WHERE school_id = $1 AND NOT closed ORDER BY grade, name""",
        school_id,
    )
    return [ClassInfo(**dict(row)) for row in rows]


async def class_info(conn: Connection, class_id: UUID) -> ClassInfo | None:
    row = await conn.fetchrow(
        "SELECT class_id, school_id, grade, name FROM roster_classes WHERE class_id = $1", class_id
    )
    return ClassInfo(**dict(row)) if row else None


async def pupils_like(conn: Connection, school_id: UUID, child: Child) -> list[RegistryPupil]:
    """Pupils now enrolled in the school sharing the surname, first name or birth date."""
    surname, first_name, _ = child.name.normalised()
    rows = await conn.fetch(
        """SELECT p.pupil_id, p.surname, p.first_name, p.patronymic, p.birth_date, e.class_id,
                  coalesce(c.name, '') AS class_name
           FROM roster_enrolments e
           JOIN roster_pupils p ON p.pupil_id = e.pupil_id AND NOT p.erased AND p.surname IS NOT NULL
           LEFT JOIN roster_classes c ON c.class_id = e.class_id
           WHERE e.school_id = $1 AND e.active
             AND (p.surname_key = $2 OR p.first_name_key = $3 OR p.birth_date = $4)
           LIMIT 200""",
        school_id,
        surname,
        first_name,
        child.birth_date,
    )
    return [
        RegistryPupil(
            pupil_id=row["pupil_id"],
            name=PersonName(row["surname"], row["first_name"], row["patronymic"]),
            birth_date=row["birth_date"],
            class_id=row["class_id"],
            class_name=row["class_name"],
        )
        for row in rows
    ]


async def is_enrolled(conn: Connection, pupil_id: UUID, school_id: UUID) -> bool:
    return bool(
        await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM roster_enrolments
                              WHERE pupil_id = $1 AND school_id = $2 AND active)""",
            pupil_id,
            school_id,
        )
    )


async def staff_member(conn: Connection, person_id: UUID, school_id: UUID) -> tuple[str, str] | None:
    """An adult staff member's full name and position, for the audit trail."""
    row = await conn.fetchrow(
        """SELECT surname, first_name, patronymic, position FROM roster_staff
           WHERE person_id = $1 AND school_id = $2""",
        person_id,
        school_id,
    )
    if row is None:
        return None
    return PersonName(row["surname"], row["first_name"], row["patronymic"]).display, row["position"]


async def erase_pupil(conn: Connection, pupil_id: UUID) -> None:
    """Forget a pupil's name for good (the registry's later re-sends are ignored)."""
    await conn.execute(
        """INSERT INTO roster_pupils (pupil_id, erased) VALUES ($1, true)
           ON CONFLICT (pupil_id) DO UPDATE SET surname = NULL, first_name = NULL, patronymic = NULL,
               birth_date = NULL, surname_key = NULL, first_name_key = NULL, erased = true""",
        pupil_id,
    )
