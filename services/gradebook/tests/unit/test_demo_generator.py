"""The demo generator: deterministic, sized as asked, schema-valid, and plausible as a school."""

from collections import Counter
from datetime import date
from uuid import UUID

import pytest

from diary_events.registry import (
    ClassRecord,
    EnrolmentRecord,
    PupilRecord,
    SchoolRecord,
    SchoolYearRecord,
    SubjectRecord,
    TeacherRecord,
    TeachingAssignmentRecord,
)
from gradebook.demo import curriculum as cur
from gradebook.demo import names
from gradebook.demo.generator import CityGenerator, CitySize, School
from gradebook.demo.publish import envelope, school_records

TODAY = date(2026, 11, 25)
SIZE = CitySize(schools=3, districts=18, classes_per_grade=2, pupils_per_class=12)


@pytest.fixture(scope="module")
def city() -> CityGenerator:
    return CityGenerator(SIZE, seed=42, today=TODAY, weeks=4)


@pytest.fixture(scope="module")
def school(city: CityGenerator) -> School:
    return city.school(1)


def dump(generator: CityGenerator, index: int) -> list[dict[str, object]]:
    school = generator.school(index)
    return [r.model_dump(mode="json") for r, _ in school_records(generator, school)]


def test_the_same_seed_gives_the_same_city_and_another_seed_another() -> None:
    first, again = (CityGenerator(SIZE, seed=7, today=TODAY, weeks=2) for _ in range(2))
    assert dump(first, 0) == dump(again, 0)
    lessons = list(first.journal(first.school(0)))
    assert lessons == list(again.journal(again.school(0)))
    assert dump(CityGenerator(SIZE, seed=8, today=TODAY, weeks=2), 0) != dump(first, 0)


def test_a_window_of_days_is_generated_like_the_whole_term(city: CityGenerator, school: School) -> None:
    some_days = city.days[3:5]
    whole = [lesson for lesson in city.journal(school) if lesson.lesson_date in some_days]
    assert list(city.journal(school, some_days)) == whole


def test_sizes_are_honoured(city: CityGenerator, school: School) -> None:
    classes = len(SIZE.grades) * SIZE.classes_per_grade
    assert len(school.classes) == classes
    per_class = Counter(e.class_id for e in school.enrolments)
    leaver = {
        e.class_id for e in school.enrolments if e.education_id in {d.education_id for d in school.departures}
    }
    assert {n - (c in leaver) for c, n in per_class.items()} == {SIZE.pupils_per_class}
    assert len({s.school_id for s in city.schools()}) == SIZE.schools
    assert CitySize().pupils == pytest.approx(600_000, rel=0.02)
    assert CitySize().schools == 700


def test_a_far_school_of_a_city_comes_without_generating_the_others() -> None:
    big = CityGenerator(CitySize(), seed=1, today=TODAY)
    last = big.school(699)
    assert len(last.classes) == 33
    assert sum(1 for _ in big.roster(last)) > 1500


def test_records_are_valid_and_in_the_order_the_registry_contract_needs(
    city: CityGenerator, school: School
) -> None:
    records = [record for record, _ in school_records(city, school)]
    for record in records:
        assert envelope(record).decode() == record
        assert record.school_id == school.school_id
    order = [
        SchoolRecord,
        SubjectRecord,
        SchoolYearRecord,
        TeacherRecord,
        ClassRecord,
        PupilRecord,
        EnrolmentRecord,
        TeachingAssignmentRecord,
    ]
    initial = list(city.roster(school))
    ranks = [order.index(type(r)) for r in initial]
    assert ranks == sorted(ranks)
    assert envelope(records[0]).id == envelope(records[0]).id  # a re-send is the same message


def test_the_school_year_has_quarters_half_years_and_the_year(city: CityGenerator, school: School) -> None:
    year = next(r for r in city.roster(school) if isinstance(r, SchoolYearRecord))
    assert year.name == "2026/2027"
    assert Counter(p.kind for p in year.periods) == {"quarter": 4, "half_year": 2, "year": 1}
    assert year.starts_on == date(2026, 9, 1)


def test_every_class_has_its_own_form_teacher_from_the_school(school: School) -> None:
    teachers = {t.teacher_id for t in school.teachers}
    form_teachers = [c.form_teacher_id for c in school.classes]
    assert set(form_teachers) <= teachers
    assert len(set(form_teachers)) == len(form_teachers)


def test_the_timetable_is_full_and_no_teacher_is_in_two_places_at_once() -> None:
    generator = CityGenerator(CitySize(schools=25, classes_per_grade=4), seed=3, today=TODAY, weeks=1)
    for school in generator.schools():
        assigned = {(a.class_id, a.subject_id): a.teacher_id for a in school.assignments}
        taken: Counter[tuple[int, int, UUID]] = Counter()
        for klass in school.classes:
            slots = school.timetable[klass.class_id]
            hours = Counter(school.subject_name(s.subject_id) for s in slots)
            assert hours == dict(cur.CURRICULUM[klass.grade]), klass.name
            per_day = Counter(s.weekday for s in slots)
            assert set(per_day) == {1, 2, 3, 4, 5}
            assert max(per_day.values()) <= cur.MAX_LESSONS_PER_DAY[klass.grade]
            assert len({(s.weekday, s.lesson_number) for s in slots}) == len(slots)
            for slot in slots:
                assert slot.teacher_id == assigned[(klass.class_id, slot.subject_id)]
                assert cur.BELLS[slot.lesson_number - 1] == (slot.starts_at, slot.ends_at)
                taken[(slot.weekday, slot.lesson_number, slot.teacher_id)] += 1
        assert max(taken.values()) == 1, school.short_name


def test_marks_and_attendance_only_on_lesson_days_for_pupils_of_the_class(
    city: CityGenerator, school: School
) -> None:
    lessons = list(city.journal(school))
    assert lessons
    days = set(city.days)
    marked = 0
    for lesson in lessons:
        assert lesson.lesson_date in days
        assert lesson.lesson_date <= TODAY
        assert lesson.lesson_date.isoweekday() <= 5
        slot = next(
            s
            for s in school.timetable[lesson.class_id]
            if (s.weekday, s.lesson_number) == (lesson.lesson_date.isoweekday(), lesson.lesson_number)
        )
        assert (slot.subject_id, slot.teacher_id) == (lesson.subject_id, lesson.teacher_id)
        members = {e.education_id for e in school.members(lesson.class_id, lesson.lesson_date)}
        absent = {a.education_id for a in lesson.attendance if a.status == "absent"}
        assert {a.education_id for a in lesson.attendance} <= members
        assert {m.education_id for m in lesson.marks} <= members - absent
        if school.class_by_id(lesson.class_id).grade == 1:
            assert not lesson.marks  # the first grade is not marked
        if lesson.homework:
            assert lesson.homework.due_on > lesson.lesson_date
        marked += len(lesson.marks)
    values = Counter(m.value for lesson in lessons for m in lesson.marks)
    assert values["5"] + values["4"] > values["3"] > values["2"] > 0
    assert marked / len(lessons) > 1
    statuses = Counter((a.status, a.absence_reason) for lesson in lessons for a in lesson.attendance)
    assert statuses[("absent", "illness")] > statuses[("absent", "excused")] > 0
    assert statuses[("late", None)] > 0
    assert any(lesson.remarks for lesson in lessons)


def test_birth_dates_fit_the_grade(city: CityGenerator, school: School) -> None:
    for enrolment in school.enrolments:
        grade = school.class_by_id(enrolment.class_id).grade
        birth = enrolment.pupil.birth_date
        age = (date(2026, 9, 1) - birth).days / 365.25
        assert grade + 5 <= age <= grade + 7.6, (grade, birth)


def test_names_agree_with_gender() -> None:
    male_first = {m[0] for m in names.MALE_NAMES}
    patronymics = {g: {m[1 if g == "m" else 2] for m in names.MALE_NAMES} for g in ("m", "f")}
    surnames = {g: {s[0 if g == "m" else 1] for s in names.SURNAMES} for g in ("m", "f")}
    generator = CityGenerator(SIZE, seed=5, today=TODAY)
    people = [e.pupil.person for s in generator.schools() for e in s.enrolments]
    people += [t.person for s in generator.schools() for t in s.teachers]
    assert Counter(p.gender for p in people)["f"] > len(people) / 3
    for person in people:
        assert (person.first_name in male_first) == (person.gender == "m")
        assert person.first_name in male_first or person.first_name in names.FEMALE_NAMES
        assert person.patronymic in patronymics[person.gender]
        assert person.patronymic.endswith(("ич", "на"))
        assert person.surname in surnames[person.gender]


def test_a_pupil_changes_class_and_another_moves_to_the_next_school_keeping_history(
    city: CityGenerator, school: School
) -> None:
    on = school.changes_on
    assert on is not None
    assert on in city.days
    transfer = school.transfers[0]
    before = [d for d in city.days if d < on][-1]
    moved = school.enrolments[[e.education_id for e in school.enrolments].index(transfer.education_id)]
    assert moved.class_id != transfer.to_class_id
    assert moved in school.members(moved.class_id, before)
    assert moved in school.members(transfer.to_class_id, on)
    assert moved not in school.members(moved.class_id, on)
    change = next(
        r for r in city.roster_changes(school) if isinstance(r, EnrolmentRecord) and r.class_since is not None
    )
    assert (change.class_id, change.class_since, change.revision) == (transfer.to_class_id, on, 2)

    departure = school.departures[0]
    leaver = next(e for e in school.enrolments if e.education_id == departure.education_id)
    neighbour = city.school(2)
    arrival = next(a for a in neighbour.arrivals if a.pupil.pupil_id == leaver.pupil.pupil_id)
    assert arrival.education_id != leaver.education_id
    assert departure.left_on < arrival.enrolled_on == on
    assert school.class_by_id(leaver.class_id).grade == neighbour.class_by_id(arrival.class_id).grade
    assert leaver in school.members(leaver.class_id, departure.left_on)
    assert all(leaver not in school.members(c.class_id, on) for c in school.classes)
    left = next(r for r in city.roster_changes(school) if isinstance(r, EnrolmentRecord) and r.left_on)
    assert (left.education_id, left.leaving_reason) == (leaver.education_id, "transferred")
