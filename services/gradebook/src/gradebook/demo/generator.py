"""A deterministic St. Petersburg school system: the roster the registry publishes and a term of
class-journal activity, for `make run` and for load tests at city scale.

Every school is generated from its own seeded random stream, so schools come one at a time (the
city never sits in memory) and the same seed always gives the same ids, names and marks. A
dated lesson's activity is derived from its own stream too, so any window of days can be
generated without replaying the days before it.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from diary_events.gradebook import AbsenceReason, AttendanceStatus, HomeworkKind, MarkValue
from diary_events.registry import (
    ClassRecord,
    EnrolmentRecord,
    PeriodRecord,
    PupilRecord,
    RegistryRecord,
    SchoolRecord,
    SchoolYearRecord,
    SubjectRecord,
    TeacherRecord,
    TeachingAssignmentRecord,
)
from gradebook.demo import curriculum as cur
from gradebook.demo import names

LETTERS = "АБВГДЕЖИКЛ"
NAMESPACE = uuid.UUID("3b0d6a52-4c1e-5f7a-9e38-2d6c41f0a7b9")
MSK = timedelta(hours=3)


@dataclass(frozen=True)
class CitySize:
    """How big a generated city is; the defaults are St. Petersburg's order of magnitude."""

    schools: int = 700
    districts: int = 18
    classes_per_grade: int = 3
    pupils_per_class: int = 26
    grades: tuple[int, ...] = tuple(range(1, 12))

    @property
    def pupils(self) -> int:
        return self.schools * len(self.grades) * self.classes_per_grade * self.pupils_per_class


@dataclass(frozen=True)
class Person:
    surname: str
    first_name: str
    patronymic: str
    gender: names.Gender


@dataclass(frozen=True)
class Teacher:
    teacher_id: UUID
    person: Person
    position: str
    room: str | None
    group: str


@dataclass(frozen=True)
class Pupil:
    pupil_id: UUID
    person: Person
    birth_date: date
    ability: float  # mean of this pupil's marks before noise; never published


@dataclass(frozen=True)
class SchoolClass:
    class_id: UUID
    grade: int
    letter: str
    form_teacher_id: UUID
    room: str

    @property
    def name(self) -> str:
        return f"{self.grade}{self.letter}"


@dataclass(frozen=True)
class Enrolment:
    """One pupil's education in one school, with the class it starts in."""

    education_id: UUID
    pupil: Pupil
    class_id: UUID
    enrolled_on: date


@dataclass(frozen=True)
class Slot:
    """One weekly lesson of a class's timetable."""

    weekday: int
    lesson_number: int
    subject_id: UUID
    teacher_id: UUID
    room: str | None

    @property
    def starts_at(self) -> time:
        return cur.BELLS[self.lesson_number - 1][0]

    @property
    def ends_at(self) -> time:
        return cur.BELLS[self.lesson_number - 1][1]


@dataclass(frozen=True)
class Assignment:
    assignment_id: UUID
    teacher_id: UUID
    class_id: UUID
    subject_id: UUID


@dataclass(frozen=True)
class Transfer:
    """A pupil moves to another class of the same school from `on`."""

    education_id: UUID
    to_class_id: UUID
    on: date


@dataclass(frozen=True)
class Departure:
    """A pupil leaves for another school; their last day here is `left_on`."""

    education_id: UUID
    left_on: date


@dataclass
class School:
    """One school's roster and timetable: everything the registry and the staff know up front."""

    index: int
    school_id: UUID
    district_id: UUID
    district_name: str
    name: str
    short_name: str
    address: str
    school_year_id: UUID
    year: int
    subjects: dict[str, UUID]
    deputy_head: Teacher
    teachers: list[Teacher]
    classes: list[SchoolClass]
    enrolments: list[Enrolment]
    assignments: list[Assignment]
    timetable: dict[UUID, list[Slot]]
    periods: list[PeriodRecord]
    transfers: list[Transfer] = field(default_factory=list)
    departures: list[Departure] = field(default_factory=list)
    arrivals: list[Enrolment] = field(default_factory=list)
    changes_on: date | None = None

    def subject_name(self, subject_id: UUID) -> str:
        return next(name for name, sid in self.subjects.items() if sid == subject_id)

    def class_by_id(self, class_id: UUID) -> SchoolClass:
        return next(c for c in self.classes if c.class_id == class_id)

    def members(self, class_id: UUID, on: date) -> list[Enrolment]:
        """The class list on a date: who is enrolled, after any transfer or departure."""
        moved = {t.education_id: t for t in self.transfers}
        gone = {d.education_id: d.left_on for d in self.departures}
        result = []
        for enrolment in [*self.enrolments, *self.arrivals]:
            if enrolment.enrolled_on > on or gone.get(enrolment.education_id, on) < on:
                continue
            transfer = moved.get(enrolment.education_id)
            current = transfer.to_class_id if transfer and transfer.on <= on else enrolment.class_id
            if current == class_id:
                result.append(enrolment)
        return result


@dataclass(frozen=True)
class Homework:
    homework_id: UUID
    due_on: date
    kind: HomeworkKind
    text: str
    attachments: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AttendanceEntry:
    education_id: UUID
    status: AttendanceStatus
    absence_reason: AbsenceReason | None = None
    minutes_late: int | None = None


@dataclass(frozen=True)
class MarkEntry:
    mark_id: UUID
    education_id: UUID
    value: MarkValue
    work_type: str
    comment: str | None = None


@dataclass(frozen=True)
class RemarkEntry:
    remark_id: UUID
    education_id: UUID
    text: str


@dataclass(frozen=True)
class LessonActivity:
    """What a teacher writes into the journal for one dated lesson."""

    school_id: UUID
    class_id: UUID
    lesson_date: date
    lesson_number: int
    subject_id: UUID
    teacher_id: UUID
    topic: str
    homework: Homework | None
    attendance: tuple[AttendanceEntry, ...]
    marks: tuple[MarkEntry, ...]
    remarks: tuple[RemarkEntry, ...]


class TimetableError(RuntimeError):
    """No timetable without double-booked teachers was found (should not happen at sane sizes)."""


class CityGenerator:
    """Generates schools of a city and their journal activity up to `today`.

    `weeks` limits the journal to the last weeks before `today` (None: since the year began).
    """

    def __init__(
        self, size: CitySize, *, seed: int = 1, today: date | None = None, weeks: int | None = None
    ) -> None:
        self.size = size
        self.seed = seed
        self.today = today or date.today()
        self.year = cur.school_year_start(self.today)
        self.year_starts = date(self.year, 9, 1)
        self.year_ends = date(self.year + 1, 5, 31)
        end = min(self.today, self.year_ends)
        start = self.year_starts if weeks is None else end - timedelta(days=7 * weeks - 1)
        start -= timedelta(days=start.weekday())
        self.window_start = max(self.year_starts, start)
        self.window_end = end
        self.days = cur.school_days(self.year, self.window_start, self.window_end)
        self._root = uuid.uuid5(NAMESPACE, f"city/{seed}")

    # --- ids and random streams -------------------------------------------------------------

    def id(self, *path: object) -> UUID:
        return uuid.uuid5(self._root, "/".join(str(p) for p in path))

    def rng(self, *path: object) -> random.Random:
        return random.Random(f"{self.seed}/" + "/".join(str(p) for p in path))

    # --- the roster ---------------------------------------------------------------------------

    def schools(self) -> Iterator[School]:
        for index in range(self.size.schools):
            yield self.school(index)

    def school(self, index: int) -> School:
        rng = self.rng("school", index)
        district = index % min(self.size.districts, len(names.DISTRICTS))
        district_name, streets = names.DISTRICTS[district]
        number = index + 1
        kind = rng.choices(["СОШ", "гимназия", "лицей"], weights=[8, 2, 1])[0]
        short_name = f"ГБОУ {kind} № {number}"
        school_id = self.id("school", index)
        subjects = sorted({s for g in self.size.grades for s, _ in cur.CURRICULUM[g]})
        school = School(
            index=index,
            school_id=school_id,
            district_id=self.id("district", district),
            district_name=district_name,
            name=f"{short_name} {names.district_genitive(district_name)} Санкт-Петербурга",
            short_name=short_name,
            address=f"Санкт-Петербург, {rng.choice(streets)}, д. {rng.randint(1, 150)}",
            school_year_id=self.id("school-year", index, self.year),
            year=self.year,
            subjects={s: self.id("subject", index, s) for s in subjects},
            deputy_head=Teacher(
                self.id("deputy-head", index),
                _person(rng, "f" if rng.random() < 0.8 else "m"),
                "заместитель директора по учебно-воспитательной работе",
                None,
                "staff",
            ),
            teachers=[],
            classes=[],
            enrolments=[],
            assignments=[],
            timetable={},
            periods=self._periods(index),
        )
        self._staff_classes(school, rng)
        self._pupils(school, rng)
        for attempt in range(40):
            try:
                school.timetable = self._timetable(school, self.rng("timetable", index, attempt))
                break
            except TimetableError:
                continue
        else:
            raise TimetableError(f"no timetable for school {index}")
        self._moves(school)
        return school

    def _periods(self, index: int) -> list[PeriodRecord]:
        qs = cur.quarters(self.year)
        periods = [
            PeriodRecord(
                period_id=self.id("period", index, self.year, "quarter", n),
                kind="quarter",
                number=n,
                name=f"{n} четверть",
                starts_on=start,
                ends_on=end,
            )
            for n, (start, end) in enumerate(qs, 1)
        ]
        for n, (start, end) in enumerate([(qs[0][0], qs[1][1]), (qs[2][0], qs[3][1])], 1):
            periods.append(
                PeriodRecord(
                    period_id=self.id("period", index, self.year, "half_year", n),
                    kind="half_year",
                    number=n,
                    name=f"{n} полугодие",
                    starts_on=start,
                    ends_on=end,
                )
            )
        periods.append(
            PeriodRecord(
                period_id=self.id("period", index, self.year, "year", 1),
                kind="year",
                number=1,
                name="Год",
                starts_on=qs[0][0],
                ends_on=qs[3][1],
            )
        )
        return periods

    def _staff_classes(self, school: School, rng: random.Random) -> None:
        """Classes, their teachers (packed into plausible loads) and the form teachers."""
        index = school.index
        rooms = {floor: 1 for floor in range(1, 5)}

        def room(floor: int) -> str:
            rooms[floor] += 1
            return f"{floor}{rooms[floor]:02d}"

        def hire(group: str, position: str, teacher_room: str | None) -> Teacher:
            gender: names.Gender = "f" if rng.random() < 0.85 else "m"
            teacher = Teacher(
                self.id("teacher", index, len(school.teachers)),
                _person(rng, gender),
                position,
                teacher_room,
                group,
            )
            school.teachers.append(teacher)
            return teacher

        # (group, class, hours) units for subject teachers; primary classes get their own teacher.
        units: dict[str, list[tuple[SchoolClass, int]]] = {}
        subject_teacher: dict[tuple[UUID, str], Teacher] = {}
        for grade in self.size.grades:
            for k in range(self.size.classes_per_grade):
                class_id = self.id("class", index, self.year, grade, k)
                letter = LETTERS[k % len(LETTERS)] + ("" if k < len(LETTERS) else str(k // len(LETTERS)))
                primary = grade <= 4
                if primary:
                    own = hire("primary", cur.PRIMARY_POSITION, room(1 if grade <= 2 else 2))
                    klass = SchoolClass(class_id, grade, letter, own.teacher_id, own.room or "")
                else:
                    klass = SchoolClass(class_id, grade, letter, NAMESPACE, room(2 + grade % 3))
                school.classes.append(klass)
                hours: dict[str, int] = {}
                for subject, h in cur.CURRICULUM[grade]:
                    if primary and subject not in cur.PRIMARY_SPECIALIST_SUBJECTS:
                        subject_teacher[(class_id, subject)] = own
                        continue
                    group = cur.GROUP_OF_SUBJECT[subject]
                    hours[group] = hours.get(group, 0) + h
                for group, h in hours.items():
                    units.setdefault(group, []).append((klass, h))

        for group, group_units in units.items():
            position = cur.TEACHER_GROUPS[group][0]
            capacity = 0
            teacher: Teacher | None = None
            for klass, h in group_units:
                if teacher is None or capacity < h:
                    if group == "pe":
                        teacher_room = f"спортзал № {sum(t.group == 'pe' for t in school.teachers) + 1}"
                    else:
                        teacher_room = room(cur.GROUP_FLOOR.get(group, 2))
                    teacher = hire(group, position, teacher_room)
                    capacity = rng.randint(18, 26)
                capacity -= h
                for subject in cur.TEACHER_GROUPS[group][1]:
                    subject_teacher[(klass.class_id, subject)] = teacher

        for klass in school.classes:
            for subject, _ in cur.CURRICULUM[klass.grade]:
                teacher = subject_teacher[(klass.class_id, subject)]
                school.assignments.append(
                    Assignment(
                        self.id("assignment", index, klass.class_id, subject),
                        teacher.teacher_id,
                        klass.class_id,
                        school.subjects[subject],
                    )
                )

        # Form teachers of grades 5-11: a teacher of the class with the most hours there, one class each.
        taken = {c.form_teacher_id for c in school.classes if c.grade <= 4}
        for i, klass in enumerate(school.classes):
            if klass.grade <= 4:
                continue
            load: dict[UUID, int] = {}
            for subject, h in cur.CURRICULUM[klass.grade]:
                tid = subject_teacher[(klass.class_id, subject)].teacher_id
                load[tid] = load.get(tid, 0) + h
            candidates = sorted(load, key=lambda t: (-load[t], str(t)))
            free = [t for t in candidates if t not in taken]
            if not free:
                free = [t.teacher_id for t in school.teachers if t.teacher_id not in taken]
            chosen = free[0] if free else candidates[0]
            taken.add(chosen)
            school.classes[i] = SchoolClass(klass.class_id, klass.grade, klass.letter, chosen, klass.room)

    def _pupils(self, school: School, rng: random.Random) -> None:
        for klass in school.classes:
            for k in range(self.size.pupils_per_class):
                pupil = self._pupil(
                    self.rng("pupil", school.index, klass.class_id, k),
                    self.id("pupil", school.index, klass.class_id, k),
                    klass.grade,
                )
                school.enrolments.append(
                    Enrolment(
                        self.id("education", school.index, pupil.pupil_id),
                        pupil,
                        klass.class_id,
                        date(self.year - klass.grade + 1, 9, 1),
                    )
                )

    def _pupil(self, rng: random.Random, pupil_id: UUID, grade: int) -> Pupil:
        gender: names.Gender = "m" if rng.random() < 0.5 else "f"
        person = _person(rng, gender)
        # Age on 1 September: grade + 5.5 to grade + 6.5 years, a few a year older.
        latest = date(self.year - grade - 5, 3, 1)
        if rng.random() < 0.04:
            latest = date(latest.year - 1, latest.month, latest.day)
        birth = latest - timedelta(days=rng.randint(0, 364))
        ability = min(4.95, max(2.6, rng.gauss(3.95, 0.55)))
        return Pupil(pupil_id, person, birth, round(ability, 2))

    def _timetable(self, school: School, rng: random.Random) -> dict[UUID, list[Slot]]:
        """Place each class's weekly hours on days where the day's lessons can still be numbered
        1..n with every teacher free (bipartite matching), falling back to a day with a gap."""
        teacher_of = {(a.class_id, a.subject_id): a.teacher_id for a in school.assignments}
        room_of = {t.teacher_id: t.room for t in school.teachers}
        busy: set[tuple[int, int, UUID]] = set()
        timetable: dict[UUID, list[Slot]] = {}
        order = sorted(school.classes, key=lambda c: (-sum(h for _, h in cur.CURRICULUM[c.grade]), c.name))
        for klass in order:
            limit = cur.MAX_LESSONS_PER_DAY[klass.grade]
            widest = min(len(cur.BELLS), limit + 1)
            days: dict[int, list[UUID]] = {d: [] for d in range(1, 6)}

            def teachers(lessons: list[UUID], class_id: UUID = klass.class_id) -> list[UUID]:
                return [teacher_of[(class_id, s)] for s in lessons]

            def load(tid: UUID, day: int) -> int:
                return sum((day, n, tid) in busy for n in range(1, len(cur.BELLS) + 1))

            plan = [
                school.subjects[subject]
                for subject, hours in sorted(cur.CURRICULUM[klass.grade], key=lambda sh: (-sh[1], sh[0]))
                for _ in range(hours)
            ]
            for sid in plan:
                tid = teacher_of[(klass.class_id, sid)]
                options = sorted(
                    (d for d in days if len(days[d]) < limit),
                    key=lambda d: (days[d].count(sid), len(days[d]) + load(tid, d), rng.random()),
                )
                chosen = next(
                    (d for d in options if _match(teachers([*days[d], sid]), d, busy, len(days[d]) + 1)),
                    None,
                ) or next((d for d in options if _match(teachers([*days[d], sid]), d, busy, widest)), None)
                if chosen is None:
                    raise TimetableError(f"{klass.name}: no day for another lesson")
                days[chosen].append(sid)
            slots = []
            for weekday, lessons in days.items():
                rng.shuffle(lessons)
                numbers = _match(teachers(lessons), weekday, busy, len(lessons)) or _match(
                    teachers(lessons), weekday, busy, widest
                )
                if numbers is None:
                    raise TimetableError(f"{klass.name}: no free lesson numbers on day {weekday}")
                for sid, number in zip(lessons, numbers, strict=True):
                    tid = teacher_of[(klass.class_id, sid)]
                    busy.add((weekday, number, tid))
                    room = klass.room if room_of[tid] == klass.room else room_of[tid]
                    slots.append(Slot(weekday, number, sid, tid, room))
            timetable[klass.class_id] = sorted(slots, key=lambda s: (s.weekday, s.lesson_number))
        return timetable

    def _moves(self, school: School) -> None:
        """One pupil changes class within the school, one leaves for the next school and one arrives
        from the previous school, all on the same school day part-way through the journal window."""
        if not self.days:
            return
        on = self.days[min(len(self.days) - 1, max(1, len(self.days) * 3 // 5))]
        school.changes_on = on
        rng = self.rng("moves", school.index)
        by_grade: dict[int, list[SchoolClass]] = {}
        for klass in school.classes:
            by_grade.setdefault(klass.grade, []).append(klass)
        parallels = [g for g, cs in by_grade.items() if len(cs) > 1]
        if parallels:
            grade = rng.choice(sorted(parallels))
            source, target = by_grade[grade][0], by_grade[grade][1]
            mover = rng.choice([e for e in school.enrolments if e.class_id == source.class_id])
            school.transfers.append(Transfer(mover.education_id, target.class_id, on))
        if self.size.schools < 2:
            return
        leaver = self._leaver(school.index)
        if leaver is not None:
            school.enrolments.append(leaver)
            previous = [d for d in self.days if d < on]
            school.departures.append(Departure(leaver.education_id, previous[-1] if previous else on))
        arriving = self._leaver((school.index - 1) % self.size.schools)
        if arriving is not None:
            parallel = by_grade[self._class_of(arriving.pupil.pupil_id)[0]]
            klass = parallel[self.rng("arrival", school.index).randrange(len(parallel))]
            school.arrivals.append(
                Enrolment(
                    self.id("education", school.index, arriving.pupil.pupil_id),
                    arriving.pupil,
                    klass.class_id,
                    on,
                )
            )

    def _class_of(self, pupil_id: UUID) -> tuple[int, int]:
        """The grade and class index a leaver studies in (the same grade in both schools)."""
        rng = self.rng("leaver-class", pupil_id)
        return rng.choice(self.size.grades), rng.randrange(self.size.classes_per_grade)

    def _leaver(self, index: int) -> Enrolment | None:
        """The pupil who leaves school `index` for the next one; derived from its own stream so
        both schools agree on who it is without generating each other."""
        if self.size.schools < 2 or not self.days:
            return None
        pupil_id = self.id("leaver", index)
        grade, k = self._class_of(pupil_id)
        pupil = self._pupil(self.rng("leaver", index), pupil_id, grade)
        return Enrolment(
            self.id("education", index, pupil_id),
            pupil,
            self.id("class", index, self.year, grade, k),
            date(self.year - grade + 1, 9, 1),
        )

    # --- registry records ---------------------------------------------------------------------

    def roster(self, school: School) -> Iterator[RegistryRecord]:
        """The school as the registry first publishes it, in the order the contract needs."""
        sid = school.school_id
        yield SchoolRecord(
            school_id=sid,
            revision=1,
            district_id=school.district_id,
            district_name=school.district_name,
            name=school.name,
            short_name=school.short_name,
            address=school.address,
        )
        for name, subject_id in school.subjects.items():
            yield SubjectRecord(school_id=sid, revision=1, subject_id=subject_id, name=name)
        yield SchoolYearRecord(
            school_id=sid,
            revision=1,
            school_year_id=school.school_year_id,
            name=f"{self.year}/{self.year + 1}",
            starts_on=self.year_starts,
            ends_on=self.year_ends,
            periods=school.periods,
        )
        for teacher in [school.deputy_head, *school.teachers]:
            yield TeacherRecord(
                school_id=sid,
                revision=1,
                teacher_id=teacher.teacher_id,
                surname=teacher.person.surname,
                first_name=teacher.person.first_name,
                patronymic=teacher.person.patronymic,
                position=teacher.position,
            )
        for klass in school.classes:
            yield ClassRecord(
                school_id=sid,
                revision=1,
                class_id=klass.class_id,
                school_year_id=school.school_year_id,
                grade=klass.grade,
                letter=klass.letter,
                form_teacher_id=klass.form_teacher_id,
            )
        for enrolment in school.enrolments:
            yield _pupil_record(sid, enrolment.pupil, 1)
        for enrolment in school.enrolments:
            yield EnrolmentRecord(
                school_id=sid,
                revision=1,
                education_id=enrolment.education_id,
                pupil_id=enrolment.pupil.pupil_id,
                class_id=enrolment.class_id,
                enrolled_on=enrolment.enrolled_on,
            )
        for a in school.assignments:
            yield TeachingAssignmentRecord(
                school_id=sid,
                revision=1,
                assignment_id=a.assignment_id,
                teacher_id=a.teacher_id,
                class_id=a.class_id,
                subject_id=a.subject_id,
            )

    def roster_changes(self, school: School) -> list[RegistryRecord]:
        """What the registry sends on `school.changes_on`: a transfer, a departure, an arrival."""
        sid = school.school_id
        first = {e.education_id: e for e in school.enrolments}
        records: list[RegistryRecord] = []
        for t in school.transfers:
            e = first[t.education_id]
            records.append(
                EnrolmentRecord(
                    school_id=sid,
                    revision=2,
                    education_id=e.education_id,
                    pupil_id=e.pupil.pupil_id,
                    class_id=t.to_class_id,
                    enrolled_on=e.enrolled_on,
                    class_since=t.on,
                )
            )
        for d in school.departures:
            e = first[d.education_id]
            records.append(
                EnrolmentRecord(
                    school_id=sid,
                    revision=2,
                    education_id=e.education_id,
                    pupil_id=e.pupil.pupil_id,
                    class_id=e.class_id,
                    enrolled_on=e.enrolled_on,
                    left_on=d.left_on,
                    leaving_reason="transferred",
                )
            )
        for a in school.arrivals:
            records.append(_pupil_record(sid, a.pupil, 2))
            records.append(
                EnrolmentRecord(
                    school_id=sid,
                    revision=1,
                    education_id=a.education_id,
                    pupil_id=a.pupil.pupil_id,
                    class_id=a.class_id,
                    enrolled_on=a.enrolled_on,
                )
            )
        return records

    def changes_time(self, school: School) -> datetime:
        """When the registry sent the changes: 08:00 in St. Petersburg on the day they apply."""
        on = school.changes_on or self.window_end
        return datetime.combine(on, time(8, 0), tzinfo=UTC) - MSK

    # --- the class journal --------------------------------------------------------------------

    def journal(self, school: School, days: list[date] | None = None) -> Iterator[LessonActivity]:
        """Every dated lesson of the window, day by day, with what its teacher records."""
        absences = self._absences(school)
        for day in self.days if days is None else days:
            for klass in school.classes:
                members = school.members(klass.class_id, day)
                for slot in school.timetable[klass.class_id]:
                    if slot.weekday == day.isoweekday():
                        yield self._lesson(school, klass, slot, day, members, absences)

    def _absences(self, school: School) -> dict[UUID, dict[date, AbsenceReason]]:
        """Whole days off per pupil: illnesses of a few days and the odd excused day."""
        result: dict[UUID, dict[date, AbsenceReason]] = {}
        if not self.days:
            return result
        for enrolment in [*school.enrolments, *school.arrivals]:
            rng = self.rng("absence", school.index, enrolment.education_id)
            off: dict[date, AbsenceReason] = {}
            weeks = len(self.days) / 5
            for _ in range(_poisson(rng, 0.07 * weeks)):
                first = rng.randrange(len(self.days))
                for day in self.days[first : first + rng.randint(2, 6)]:
                    off[day] = "illness"
            for _ in range(_poisson(rng, 0.03 * weeks)):
                off.setdefault(self.days[rng.randrange(len(self.days))], "excused")
            if off:
                result[enrolment.education_id] = off
        return result

    def _lesson(
        self,
        school: School,
        klass: SchoolClass,
        slot: Slot,
        day: date,
        members: list[Enrolment],
        absences: dict[UUID, dict[date, AbsenceReason]],
    ) -> LessonActivity:
        rng = self.rng("lesson", klass.class_id, day, slot.lesson_number)
        subject = school.subject_name(slot.subject_id)
        key = (klass.class_id, day, slot.lesson_number)

        attendance: list[AttendanceEntry] = []
        present: list[Enrolment] = []
        for e in members:
            reason = absences.get(e.education_id, {}).get(day)
            if reason is None and klass.grade >= 7 and rng.random() < 0.003:
                reason = "unexcused"
            if reason is not None:
                attendance.append(AttendanceEntry(e.education_id, "absent", reason))
                continue
            present.append(e)
            if slot.lesson_number == 1 and rng.random() < 0.012:
                attendance.append(AttendanceEntry(e.education_id, "late", None, rng.randint(3, 15)))

        topics = cur.TOPICS[subject]
        week = (day - self.year_starts).days // 7
        hours = sum(1 for s in school.timetable[klass.class_id] if s.subject_id == slot.subject_id)
        ordinal = sum(
            1
            for s in school.timetable[klass.class_id]
            if s.subject_id == slot.subject_id
            and (s.weekday, s.lesson_number) < (slot.weekday, slot.lesson_number)
        )
        lesson_index = week * hours + ordinal
        # The year's ~34 weeks of this subject walk through its topics in order.
        topic = topics[min(len(topics) - 1, lesson_index * len(topics) // (34 * hours))]

        homework = None
        if subject not in cur.NO_HOMEWORK and rng.random() < 0.85:
            templates = cur.HOMEWORK.get(subject, cur.DEFAULT_HOMEWORK)
            n, page = rng.randint(10, 600), rng.randint(5, 200)
            text = rng.choice(templates).format(
                n=n, m=n + rng.randint(1, 4), p=page, q=page + rng.randint(4, 20), s=lesson_index // 2 + 1
            )
            kinds: tuple[HomeworkKind, ...] = ("written", "written", "oral")
            kind: HomeworkKind = "reading" if "Прочитать" in text else rng.choice(kinds)
            attachments: tuple[tuple[str, str], ...] = ()
            if rng.random() < 0.05:
                attachments = (("Презентация к уроку", f"https://school.example/materials/{n}.pdf"),)
            homework = Homework(
                self.id("homework", *key),
                self._next_lesson(school, klass.class_id, slot.subject_id, day),
                kind,
                text,
                attachments,
            )

        marks = self._marks(school, klass, subject, slot, day, present, rng, key)

        remarks = []
        if present and rng.random() < 0.015:
            e = rng.choice(present)
            remarks.append(
                RemarkEntry(self.id("remark", *key, e.education_id), e.education_id, _remark(rng, e))
            )

        return LessonActivity(
            school_id=school.school_id,
            class_id=klass.class_id,
            lesson_date=day,
            lesson_number=slot.lesson_number,
            subject_id=slot.subject_id,
            teacher_id=slot.teacher_id,
            topic=topic,
            homework=homework,
            attendance=tuple(attendance),
            marks=tuple(marks),
            remarks=tuple(remarks),
        )

    def _marks(
        self,
        school: School,
        klass: SchoolClass,
        subject: str,
        slot: Slot,
        day: date,
        present: list[Enrolment],
        rng: random.Random,
        key: tuple[UUID, date, int],
    ) -> list[MarkEntry]:
        """Grade 1 is not marked; a written work marks everyone present, otherwise a few answers."""
        if klass.grade == 1 or not present:
            return []
        draw = rng.random()
        if subject in cur.PASS_FAIL_SUBJECTS:
            chosen, work = rng.sample(present, min(len(present), rng.randint(0, 3))), "ответ на уроке"
        elif draw < 0.07 and subject not in cur.NO_HOMEWORK:
            chosen, work = present, "контрольная работа"
        elif draw < 0.15 and subject == cur.RUSSIAN and klass.grade <= 9:
            chosen, work = present, "диктант"
        elif draw < 0.22 and subject in cur.PRACTICAL_SUBJECTS:
            chosen, work = present, "практическая работа"
        elif draw < 0.30 and subject not in cur.NO_HOMEWORK:
            chosen, work = rng.sample(present, max(1, len(present) // 2)), "самостоятельная работа"
        else:
            chosen, work = rng.sample(present, min(len(present), rng.randint(1, 4))), "ответ на уроке"
        marks = []
        bias = cur.MARK_BIAS.get(subject, 0.0) + (-0.2 if work == "контрольная работа" else 0.1)
        for e in chosen:
            value: MarkValue
            if subject in cur.PASS_FAIL_SUBJECTS:
                value = "зачёт" if rng.random() < 0.97 else "незачёт"
            else:
                score = round(e.pupil.ability + bias + rng.gauss(0, 0.7))
                value = ("2", "2", "2", "3", "4", "5")[min(5, max(0, score))]
            marks.append(MarkEntry(self.id("mark", *key, e.education_id), e.education_id, value, work))
        if work == "ответ на уроке" and rng.random() < 0.3 and subject not in cur.NO_HOMEWORK:
            e = rng.choice(present)
            if e not in chosen:
                value = ("2", "3", "4", "5")[min(3, max(0, round(e.pupil.ability + rng.gauss(0, 0.8)) - 2))]
                marks.append(
                    MarkEntry(self.id("mark", *key, e.education_id), e.education_id, value, "домашняя работа")
                )
        return marks

    def _next_lesson(self, school: School, class_id: UUID, subject_id: UUID, day: date) -> date:
        weekdays = {s.weekday for s in school.timetable[class_id] if s.subject_id == subject_id}
        off = cur.holidays(self.year)
        candidate = day + timedelta(days=1)
        for _ in range(30):
            in_term = any(a <= candidate <= b for a, b in cur.quarters(self.year))
            if candidate.isoweekday() in weekdays and in_term and candidate not in off:
                return candidate
            candidate += timedelta(days=1)
        return day + timedelta(days=7)


def _match(
    teachers: list[UUID], weekday: int, busy: set[tuple[int, int, UUID]], numbers: int
) -> list[int] | None:
    """Lesson numbers 1..`numbers` for the day's lessons with every teacher free (Kuhn's matching)."""
    owner: dict[int, int] = {}

    def assign(i: int, seen: set[int]) -> bool:
        for number in range(1, numbers + 1):
            if number in seen or (weekday, number, teachers[i]) in busy:
                continue
            seen.add(number)
            if number not in owner or assign(owner[number], seen):
                owner[number] = i
                return True
        return False

    for i in range(len(teachers)):
        if not assign(i, set()):
            return None
    result = [0] * len(teachers)
    for number, i in owner.items():
        result[i] = number
    return result


def _person(rng: random.Random, gender: names.Gender) -> Person:
    male, female = rng.choice(names.SURNAMES)
    _, son, daughter = rng.choice(names.MALE_NAMES)
    if gender == "m":
        return Person(male, rng.choice(names.MALE_NAMES)[0], son, "m")
    return Person(female, rng.choice(names.FEMALE_NAMES), daughter, "f")


def _pupil_record(school_id: UUID, pupil: Pupil, revision: int) -> PupilRecord:
    return PupilRecord(
        school_id=school_id,
        revision=revision,
        pupil_id=pupil.pupil_id,
        surname=pupil.person.surname,
        first_name=pupil.person.first_name,
        patronymic=pupil.person.patronymic,
        birth_date=pupil.birth_date,
    )


def _remark(rng: random.Random, enrolment: Enrolment) -> str:
    female = enrolment.pupil.person.gender == "f"
    options = (
        "Не выполнила домашнее задание" if female else "Не выполнил домашнее задание",
        "Разговаривала на уроке" if female else "Разговаривал на уроке",
        "Забыла учебник" if female else "Забыл учебник",
        "Отсутствует сменная обувь",
        "Нет тетради для контрольных работ",
    )
    return rng.choice(options)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; the means here are small."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
