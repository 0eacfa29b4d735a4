"""Who may read a pupil's diary: the gateway's one authorisation rule, free of I/O.

The facts come from the access read model (built from the topics); the viewer is a verified
access token. Anything not allowed here is answered as if the diary did not exist, so a
probing client learns nothing about which ids are real (broken object-level authorisation is
the first API risk).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from diary_kernel.access_tokens import AccessClaims


@dataclass(frozen=True)
class DiaryFacts:
    """What the access read model knows about one education (a pupil's enrolment in a school)."""

    education_id: UUID
    pupil_id: UUID
    school_id: UUID
    class_id: UUID
    active: bool
    parent_linked: bool
    """The viewer's account has a live parent link to this pupil at this school."""
    taught_by: frozenset[UUID]
    """Those of the viewer's teacher ids that teach the class or are its form teacher."""


def may_read_diary(viewer: AccessClaims, facts: DiaryFacts) -> bool:
    """A linked parent; the pupil themself; a teacher of the pupil's current class; the school's staff.

    Operators run the platform and read no child's diary.
    """
    for role in viewer.roles:
        if role.role == "parent" and facts.parent_linked:
            return True
        if role.role == "pupil" and role.person_id == facts.pupil_id:
            return True
        if (
            role.role == "teacher"
            and facts.active
            and role.school_id == facts.school_id
            and role.person_id in facts.taught_by
        ):
            return True
        if role.role == "school_staff" and role.school_id == facts.school_id:
            return True
    return False


def teacher_ids(viewer: AccessClaims) -> list[UUID]:
    """The roster teacher ids the viewer acts as (a teacher may work in several schools)."""
    return [r.person_id for r in viewer.roles if r.role == "teacher" and r.person_id is not None]


def pupil_ids(viewer: AccessClaims) -> list[UUID]:
    """The roster pupil ids the viewer is (a pupil account names its roster person)."""
    return [r.person_id for r in viewer.roles if r.role == "pupil" and r.person_id is not None]
