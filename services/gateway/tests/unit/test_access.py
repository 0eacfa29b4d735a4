"""The one authorisation rule of the diary, role by role, without I/O."""

from uuid import UUID, uuid4

from diary_kernel.access_tokens import AccessClaims, RoleClaim
from gateway.domain.access import DiaryFacts, may_read_diary

SCHOOL, OTHER_SCHOOL = uuid4(), uuid4()
PUPIL, TEACHER = uuid4(), uuid4()


def viewer(*roles: RoleClaim) -> AccessClaims:
    return AccessClaims(account_id=uuid4(), session_id=uuid4(), roles=roles, expires_at=0)


def facts(
    *, parent_linked: bool = False, taught_by: frozenset[UUID] = frozenset(), active: bool = True
) -> DiaryFacts:
    return DiaryFacts(
        education_id=uuid4(),
        pupil_id=PUPIL,
        school_id=SCHOOL,
        class_id=uuid4(),
        active=active,
        parent_linked=parent_linked,
        taught_by=taught_by,
    )


def test_a_parent_needs_a_live_link() -> None:
    parent = viewer(RoleClaim(role="parent"))
    assert may_read_diary(parent, facts(parent_linked=True))
    assert not may_read_diary(parent, facts())
    # A link found for an account without the parent role opens nothing.
    assert not may_read_diary(viewer(RoleClaim(role="operator")), facts(parent_linked=True))


def test_a_pupil_reads_only_their_own_diary() -> None:
    assert may_read_diary(viewer(RoleClaim(role="pupil", school_id=SCHOOL, person_id=PUPIL)), facts())
    assert not may_read_diary(viewer(RoleClaim(role="pupil", school_id=SCHOOL, person_id=uuid4())), facts())


def test_a_teacher_reads_the_classes_they_teach_while_the_pupil_is_there() -> None:
    teacher = viewer(RoleClaim(role="teacher", school_id=SCHOOL, person_id=TEACHER))
    assert may_read_diary(teacher, facts(taught_by=frozenset({TEACHER})))
    assert not may_read_diary(teacher, facts())
    assert not may_read_diary(teacher, facts(taught_by=frozenset({TEACHER}), active=False))
    elsewhere = viewer(RoleClaim(role="teacher", school_id=OTHER_SCHOOL, person_id=TEACHER))
    assert not may_read_diary(elsewhere, facts(taught_by=frozenset({TEACHER})))


def test_school_staff_read_their_own_school_only_and_operators_nothing() -> None:
    assert may_read_diary(viewer(RoleClaim(role="school_staff", school_id=SCHOOL)), facts(active=False))
    assert not may_read_diary(viewer(RoleClaim(role="school_staff", school_id=OTHER_SCHOOL)), facts())
    assert not may_read_diary(viewer(RoleClaim(role="operator")), facts())
    assert not may_read_diary(viewer(), facts())
