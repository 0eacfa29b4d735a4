"""Who may write what in the class journal: decisions over facts the service layer gathers.

A teacher writes only in classes of their own school, for subjects they teach there (or for a
lesson they substitute); a school's staff keep its timetable; nobody acts across schools. A
class of another school is answered as "not found", so its existence is not revealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from gradebook.domain.errors import Forbidden, NotFound


class Role(StrEnum):
    TEACHER = "teacher"
    SCHOOL_STAFF = "school_staff"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Actor:
    role: Role
    actor_id: UUID
    school_id: UUID | None = None


def require_same_school(actor: Actor, school_id: UUID | None, what: str, field: str) -> None:
    """Another school's data does not exist for the actor."""
    if school_id is None or actor.school_id != school_id:
        raise NotFound(f"no such {what}", field=field)


def require_timetable_keeper(actor: Actor, school_id: UUID | None) -> None:
    require_same_school(actor, school_id, "class", "class_id")
    if actor.role is not Role.SCHOOL_STAFF:
        raise Forbidden("only the school's staff keep the timetable")


def require_journal_keeper(
    actor: Actor, school_id: UUID | None, *, teaches_subject: bool, teaches_lesson: bool = False
) -> None:
    """A teacher of the subject in the class, or the teacher on this very lesson (a substitute)."""
    require_same_school(actor, school_id, "class", "class_id")
    if actor.role is not Role.TEACHER:
        raise Forbidden("only teachers write in the class journal")
    if not (teaches_subject or teaches_lesson):
        raise Forbidden("you do not teach this subject in this class")


def require_report_reader(
    actor: Actor, school_id: UUID | None, *, is_form_teacher: bool, teaches_class: bool
) -> None:
    if actor.role is Role.OPERATOR:
        return
    require_same_school(actor, school_id, "class", "class_id")
    if actor.role is Role.TEACHER and not (is_form_teacher or teaches_class):
        raise Forbidden("only the form teacher and the class's teachers read its report")
