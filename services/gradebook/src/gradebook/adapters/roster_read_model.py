"""The roster read model: who is in which school and class, who teaches what, and when.

The write side asks it for authorisation (is this teacher assigned to this class and subject?)
and the diary queries join it for names. It is built only from `gradebook.events.v1`; events of
different aggregates come from different partitions in no fixed order, so every handler writes
only its own aggregate's rows and the relations are resolved at query time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from diary_events.gradebook import (
    GRADEBOOK_EVENTS_TOPIC,
    ClassClosed,
    ClassOpened,
    PupilEnrolled,
    PupilLeftSchool,
    PupilRegistered,
    PupilTransferred,
    SchoolClosed,
    SchoolRegistered,
    SchoolYearOpened,
    SubjectRegistered,
    TeacherAssigned,
    TeacherDismissed,
    TeacherRegistered,
    TeacherUnassigned,
)
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope
from diary_kernel.personal_data import PersonalDataErased, PersonalDataKeys
from diary_kernel.projector import RejectedEvent

ROSTER_TABLES = (
    "roster_schools",
    "roster_subjects",
    "roster_school_years",
    "roster_periods",
    "roster_classes",
    "roster_pupils",
    "roster_educations",
    "roster_education_classes",
    "roster_teachers",
    "roster_assignments",
)


class RosterProjection:
    """Keeps the `roster_*` tables in step with the roster events."""

    name = "gradebook.roster"
    topics: Sequence[str] = (GRADEBOOK_EVENTS_TOPIC,)
    tables: Sequence[str] = ROSTER_TABLES

    def __init__(self, keys: PersonalDataKeys | None = None) -> None:
        self._keys = keys or PersonalDataKeys()

    async def apply(self, conn: Connection, event: Envelope) -> None:
        match event.decode():
            case SchoolRegistered() as school:  # also SchoolChanged
                await conn.execute(
                    """INSERT INTO roster_schools (school_id, district_id, district_name, name,
                           short_name, address)
                       VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (school_id) DO UPDATE SET district_id = EXCLUDED.district_id,
                           district_name = EXCLUDED.district_name, name = EXCLUDED.name,
                           short_name = EXCLUDED.short_name, address = EXCLUDED.address""",
                    school.school_id,
                    school.district_id,
                    school.district_name,
                    school.name,
                    school.short_name,
                    school.address,
                )
            case SchoolClosed() as closed:
                await conn.execute(
                    "UPDATE roster_schools SET closed = true WHERE school_id = $1", closed.school_id
                )
            case SubjectRegistered() as subject:
                await conn.execute(
                    """INSERT INTO roster_subjects (subject_id, school_id, name) VALUES ($1, $2, $3)
                       ON CONFLICT (subject_id) DO UPDATE SET school_id = EXCLUDED.school_id,
                           name = EXCLUDED.name""",
                    subject.subject_id,
                    subject.school_id,
                    subject.name,
                )
            case SchoolYearOpened() as year:
                await self._school_year(conn, year)
            case ClassOpened() as opened:  # also ClassChanged
                await conn.execute(
                    """INSERT INTO roster_classes (class_id, school_id, school_year_id, grade, letter,
                           name, form_teacher_id)
                       VALUES ($1, $2, $3, $4, $5, $6, $7)
                       ON CONFLICT (class_id) DO UPDATE SET school_id = EXCLUDED.school_id,
                           school_year_id = EXCLUDED.school_year_id, grade = EXCLUDED.grade,
                           letter = EXCLUDED.letter, name = EXCLUDED.name,
                           form_teacher_id = EXCLUDED.form_teacher_id""",
                    opened.class_id,
                    opened.school_id,
                    opened.school_year_id,
                    opened.grade,
                    opened.letter,
                    opened.name,
                    opened.form_teacher_id,
                )
            case ClassClosed() as closed_class:
                await conn.execute(
                    "UPDATE roster_classes SET closed = true WHERE class_id = $1", closed_class.class_id
                )
            case PupilRegistered() as pupil:
                await self._pupil(conn, pupil)
            case PupilEnrolled() as enrolled:
                await conn.execute(
                    """INSERT INTO roster_educations (education_id, pupil_id, school_id, enrolled_on)
                       VALUES ($1, $2, $3, $4)
                       ON CONFLICT (education_id) DO UPDATE SET pupil_id = EXCLUDED.pupil_id,
                           school_id = EXCLUDED.school_id, enrolled_on = EXCLUDED.enrolled_on""",
                    enrolled.education_id,
                    enrolled.pupil_id,
                    enrolled.school_id,
                    enrolled.enrolled_on,
                )
                await _class_stint(conn, enrolled.education_id, enrolled.class_id, enrolled.enrolled_on)
            case PupilTransferred() as moved:
                await _class_stint(conn, moved.education_id, moved.to_class_id, moved.transferred_on)
            case PupilLeftSchool() as left:
                updated = await conn.fetchval(
                    """UPDATE roster_educations SET left_on = $2, leaving_reason = $3
                       WHERE education_id = $1 RETURNING education_id""",
                    left.education_id,
                    left.left_on,
                    left.reason,
                )
                if updated is None:
                    raise RejectedEvent(f"education {left.education_id} left a school it never entered")
                await _recompute_stint_ends(conn, left.education_id)
            case TeacherRegistered() as teacher:
                # Registered again after a dismissal means the teacher is back on the staff.
                await conn.execute(
                    """INSERT INTO roster_teachers (teacher_id, school_id, surname, first_name,
                           patronymic, position, dismissed)
                       VALUES ($1, $2, $3, $4, $5, $6, false)
                       ON CONFLICT (teacher_id) DO UPDATE SET school_id = EXCLUDED.school_id,
                           surname = EXCLUDED.surname, first_name = EXCLUDED.first_name,
                           patronymic = EXCLUDED.patronymic, position = EXCLUDED.position,
                           dismissed = false""",
                    teacher.teacher_id,
                    teacher.school_id,
                    teacher.surname,
                    teacher.first_name,
                    teacher.patronymic,
                    teacher.position,
                )
            case TeacherDismissed() as dismissed:
                await conn.execute(
                    "UPDATE roster_teachers SET dismissed = true WHERE teacher_id = $1",
                    dismissed.teacher_id,
                )
            case TeacherAssigned() as assignment:  # also TeacherUnassigned
                await conn.execute(
                    """INSERT INTO roster_assignments (assignment_id, teacher_id, school_id, class_id,
                           subject_id, active)
                       VALUES ($1, $2, $3, $4, $5, $6)
                       ON CONFLICT (assignment_id) DO UPDATE SET teacher_id = EXCLUDED.teacher_id,
                           school_id = EXCLUDED.school_id, class_id = EXCLUDED.class_id,
                           subject_id = EXCLUDED.subject_id, active = EXCLUDED.active""",
                    assignment.assignment_id,
                    assignment.teacher_id,
                    assignment.school_id,
                    assignment.class_id,
                    assignment.subject_id,
                    not isinstance(assignment, TeacherUnassigned),
                )
            case _:
                return  # other gradebook events feed other read models

    async def _school_year(self, conn: Connection, year: SchoolYearOpened) -> None:
        """The year with its periods in full: periods no longer listed are dropped."""
        await conn.execute(
            """INSERT INTO roster_school_years (school_year_id, school_id, name, starts_on, ends_on)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (school_year_id) DO UPDATE SET school_id = EXCLUDED.school_id,
                   name = EXCLUDED.name, starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on""",
            year.school_year_id,
            year.school_id,
            year.name,
            year.starts_on,
            year.ends_on,
        )
        await conn.execute(
            "DELETE FROM roster_periods WHERE school_year_id = $1 AND NOT (period_id = ANY($2::uuid[]))",
            year.school_year_id,
            [p.period_id for p in year.periods],
        )
        await conn.executemany(
            """INSERT INTO roster_periods (period_id, school_year_id, school_id, kind, number, name,
                   starts_on, ends_on)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (period_id) DO UPDATE SET school_year_id = EXCLUDED.school_year_id,
                   school_id = EXCLUDED.school_id, kind = EXCLUDED.kind, number = EXCLUDED.number,
                   name = EXCLUDED.name, starts_on = EXCLUDED.starts_on, ends_on = EXCLUDED.ends_on""",
            [
                (
                    p.period_id,
                    year.school_year_id,
                    year.school_id,
                    p.kind,
                    p.number,
                    p.name,
                    p.starts_on,
                    p.ends_on,
                )
                for p in year.periods
            ],
        )

    async def _pupil(self, conn: Connection, pupil: PupilRegistered) -> None:
        """Open the sealed name; an erased pupil keeps a row with no name at all."""
        try:
            data = await self._keys.open(conn, pupil.personal_data, str(pupil.pupil_id))
        except PersonalDataErased:
            await forget_pupil(conn, pupil.pupil_id)
            return
        except ValueError as exc:
            raise RejectedEvent(f"personal data of pupil {pupil.pupil_id} does not open: {exc}") from exc
        birth = data.get("birth_date")
        await conn.execute(
            """INSERT INTO roster_pupils (pupil_id, surname, first_name, patronymic, birth_date, erased)
               VALUES ($1, $2, $3, $4, $5, false)
               ON CONFLICT (pupil_id) DO UPDATE SET surname = EXCLUDED.surname,
                   first_name = EXCLUDED.first_name, patronymic = EXCLUDED.patronymic,
                   birth_date = EXCLUDED.birth_date
               WHERE NOT roster_pupils.erased""",
            pupil.pupil_id,
            data.get("surname"),
            data.get("first_name"),
            data.get("patronymic"),
            date.fromisoformat(birth) if isinstance(birth, str) else None,
        )


async def forget_pupil(conn: Connection, pupil_id: UUID) -> None:
    """Drop a pupil's name from the read model for good (call it where the key is destroyed)."""
    await conn.execute(
        """INSERT INTO roster_pupils (pupil_id, erased) VALUES ($1, true)
           ON CONFLICT (pupil_id) DO UPDATE SET surname = NULL, first_name = NULL, patronymic = NULL,
               birth_date = NULL, erased = true""",
        pupil_id,
    )


async def _class_stint(conn: Connection, education_id: UUID, class_id: UUID, from_on: date) -> None:
    await conn.execute(
        """INSERT INTO roster_education_classes (education_id, from_on, class_id) VALUES ($1, $2, $3)
           ON CONFLICT (education_id, from_on) DO UPDATE SET class_id = EXCLUDED.class_id""",
        education_id,
        from_on,
        class_id,
    )
    await _recompute_stint_ends(conn, education_id)


async def _recompute_stint_ends(conn: Connection, education_id: UUID) -> None:
    """Each stint ends where the next begins, the last one where the pupil left (if they did).

    Derived from the whole set of stints, so re-applying an event gives the same answer.
    """
    await conn.execute(
        """UPDATE roster_education_classes ec SET to_on = s.to_on
           FROM (SELECT c.from_on,
                        coalesce(lead(c.from_on) OVER (ORDER BY c.from_on), e.left_on) AS to_on
                 FROM roster_education_classes c
                 LEFT JOIN roster_educations e USING (education_id)
                 WHERE c.education_id = $1) s
           WHERE ec.education_id = $1 AND ec.from_on = s.from_on
             AND ec.to_on IS DISTINCT FROM s.to_on""",
        education_id,
    )


# --- Queries the write side uses for authorisation, and the diary uses for names ------------


@dataclass(frozen=True)
class ClassInfo:
    class_id: UUID
    school_id: UUID
    school_year_id: UUID
    grade: int
    letter: str
    name: str
    form_teacher_id: UUID | None
    closed: bool


@dataclass(frozen=True)
class EducationInfo:
    education_id: UUID
    pupil_id: UUID
    school_id: UUID
    class_id: UUID | None
    active: bool


@dataclass(frozen=True)
class TeacherInfo:
    teacher_id: UUID
    school_id: UUID
    dismissed: bool
    surname: str
    first_name: str
    patronymic: str | None
    position: str


@dataclass(frozen=True)
class PeriodInfo:
    period_id: UUID
    school_year_id: UUID
    school_id: UUID
    kind: str
    number: int
    name: str
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class SubjectInfo:
    subject_id: UUID
    school_id: UUID
    name: str


async def class_info(conn: Connection, class_id: UUID) -> ClassInfo | None:
    row = await conn.fetchrow(
        """SELECT class_id, school_id, school_year_id, grade, letter, name, form_teacher_id, closed
           FROM roster_classes WHERE class_id = $1""",
        class_id,
    )
    return ClassInfo(**row) if row else None


async def education_at(conn: Connection, education_id: UUID, on: date) -> EducationInfo | None:
    """The enrolment with the class on `on`, or the latest class when `on` is outside them all.

    `active` says whether the pupil was enrolled on that date (left_on is the first day out).
    """
    row = await conn.fetchrow(
        """SELECT e.education_id, e.pupil_id, e.school_id,
                  (e.enrolled_on <= $2 AND (e.left_on IS NULL OR $2 < e.left_on)) AS active,
                  (SELECT c.class_id FROM roster_education_classes c
                   WHERE c.education_id = e.education_id
                   ORDER BY (c.from_on <= $2 AND (c.to_on IS NULL OR $2 < c.to_on)) DESC,
                            c.from_on DESC
                   LIMIT 1) AS class_id
           FROM roster_educations e WHERE e.education_id = $1""",
        education_id,
        on,
    )
    return EducationInfo(**row) if row else None


async def is_assigned(conn: Connection, teacher_id: UUID, class_id: UUID, subject_id: UUID) -> bool:
    """An active assignment of a teacher who is still on the staff."""
    found = await conn.fetchval(
        """SELECT EXISTS (
               SELECT 1 FROM roster_assignments a
               JOIN roster_teachers t ON t.teacher_id = a.teacher_id AND NOT t.dismissed
               WHERE a.class_id = $2 AND a.subject_id = $3 AND a.teacher_id = $1 AND a.active)""",
        teacher_id,
        class_id,
        subject_id,
    )
    return bool(found)


async def teaches_class(conn: Connection, teacher_id: UUID, class_id: UUID) -> bool:
    """Form teacher of the class, or assigned to any of its subjects (staff-facing reads)."""
    found = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM roster_classes WHERE class_id = $2 AND form_teacher_id = $1)
               OR EXISTS (SELECT 1 FROM roster_assignments a
                          JOIN roster_teachers t ON t.teacher_id = a.teacher_id AND NOT t.dismissed
                          WHERE a.class_id = $2 AND a.teacher_id = $1 AND a.active)""",
        teacher_id,
        class_id,
    )
    return bool(found)


async def teacher_info(conn: Connection, teacher_id: UUID) -> TeacherInfo | None:
    row = await conn.fetchrow(
        """SELECT teacher_id, school_id, dismissed, surname, first_name, patronymic, position
           FROM roster_teachers WHERE teacher_id = $1""",
        teacher_id,
    )
    return TeacherInfo(**row) if row else None


async def class_education_ids(conn: Connection, class_id: UUID, on: date) -> list[UUID]:
    """The educations in the class on a date (enrolled and not yet left or moved on)."""
    rows = await conn.fetch(
        """SELECT c.education_id FROM roster_education_classes c
           JOIN roster_educations e USING (education_id)
           WHERE c.class_id = $1 AND c.from_on <= $2 AND (c.to_on IS NULL OR $2 < c.to_on)
             AND e.enrolled_on <= $2 AND (e.left_on IS NULL OR $2 < e.left_on)
           ORDER BY c.education_id""",
        class_id,
        on,
    )
    return [row["education_id"] for row in rows]


async def period_info(conn: Connection, period_id: UUID) -> PeriodInfo | None:
    row = await conn.fetchrow(
        """SELECT period_id, school_year_id, school_id, kind, number, name, starts_on, ends_on
           FROM roster_periods WHERE period_id = $1""",
        period_id,
    )
    return PeriodInfo(**row) if row else None


async def subject_info(conn: Connection, subject_id: UUID) -> SubjectInfo | None:
    row = await conn.fetchrow(
        "SELECT subject_id, school_id, name FROM roster_subjects WHERE subject_id = $1", subject_id
    )
    return SubjectInfo(**row) if row else None
