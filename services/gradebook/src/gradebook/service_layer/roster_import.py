"""Turns the registry's and the exam centre's records into the gradebook's own events.

Runs inside the inbound consumer's transaction (the projector runner's inbox), so a record is
imported exactly once, and what it changed is appended to the event store and outbox atomically.
References are checked against the gradebook's own aggregates, which are consistent here.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from diary_events.exams import ExamResultRecord
from diary_events.registry import (
    ClassRecord,
    EnrolmentRecord,
    PupilRecord,
    RegistryRecord,
    SchoolRecord,
    SchoolYearRecord,
    SubjectRecord,
    TeacherRecord,
    TeachingAssignmentRecord,
)
from diary_kernel.aggregate import A, Repository
from diary_kernel.db import Connection
from diary_kernel.eventstore import EventStore
from diary_kernel.personal_data import PersonalDataErased, PersonalDataKeys, seal
from gradebook.domain.exams import ExamResult
from gradebook.domain.roster import (
    Education,
    Pupil,
    RosterError,
    School,
    SchoolClass,
    SchoolYear,
    Subject,
    Teacher,
    TeachingAssignment,
)

log = logging.getLogger(__name__)


class RosterImport:
    """One record at a time, on the connection of the consumer's transaction."""

    def __init__(self, conn: Connection, store: EventStore, keys: PersonalDataKeys) -> None:
        self._conn = conn
        self._store = store
        self._keys = keys

    async def newer(self, record_type: str, record_id: UUID, revision: int) -> bool:
        """Claim `revision` of a record; False when it (or a later one) was already applied."""
        claimed = await self._conn.fetchval(
            """INSERT INTO import_revisions (record_type, record_id, revision) VALUES ($1, $2, $3)
               ON CONFLICT (record_type, record_id) DO UPDATE
                   SET revision = EXCLUDED.revision, applied_at = now()
                   WHERE import_revisions.revision < EXCLUDED.revision
               RETURNING true""",
            record_type,
            record_id,
            revision,
        )
        return bool(claimed)

    async def record(self, record: RegistryRecord) -> None:
        match record:
            case SchoolRecord():
                await self._sync(School, record.school_id, record, record.school_id)
            case SubjectRecord():
                await self._open_school(record.school_id)
                await self._sync(Subject, record.subject_id, record, record.school_id)
            case SchoolYearRecord():
                await self._open_school(record.school_id)
                await self._sync(SchoolYear, record.school_year_id, record, record.school_id)
            case ClassRecord():
                await self._open_school(record.school_id)
                year = await self._load(SchoolYear, record.school_year_id)
                if year.opened is None or year.opened.school_id != record.school_id:
                    raise RosterError(f"class {record.class_id}: unknown school year {record.school_year_id}")
                await self._sync(SchoolClass, record.class_id, record, record.school_id)
            case PupilRecord():
                await self._pupil(record)
            case EnrolmentRecord():
                await self._enrolment(record)
            case TeacherRecord():
                await self._open_school(record.school_id)
                await self._sync(Teacher, record.teacher_id, record, record.school_id)
            case TeachingAssignmentRecord():
                await self._assignment(record)
            case _:
                raise RosterError(f"the gradebook does not import {type(record).__name__}")

    async def exam_result(self, record: ExamResultRecord) -> None:
        education_id = await self._conn.fetchval(
            """SELECT education_id FROM import_pupil_educations
               WHERE pupil_id = $1 AND school_id = $2 ORDER BY active DESC LIMIT 1""",
            record.pupil_id,
            record.school_id,
        )
        result = await self._load(ExamResult, record.result_id)
        result.sync(record, education_id)
        await self._save(ExamResult, result, education_id or record.pupil_id)

    async def _pupil(self, record: PupilRecord) -> None:
        pupil = await self._load(Pupil, record.pupil_id)
        subject = str(record.pupil_id)
        personal: dict[str, Any] = {
            "surname": record.surname,
            "first_name": record.first_name,
            "patronymic": record.patronymic,
            "birth_date": record.birth_date.isoformat(),
        }
        try:
            if (
                pupil.sealed is not None
                and await self._keys.open(self._conn, pupil.sealed, subject) == personal
            ):
                return
            key_id, key = await self._keys.key_for(self._conn, subject)
        except PersonalDataErased:
            log.info("pupil's personal data was erased; registry update not stored", extra={"pupil": subject})
            return
        pupil.register(record.pupil_id, seal(personal, key_id=key_id, key=key, subject_id=subject))
        await self._save(Pupil, pupil, record.pupil_id)

    async def _enrolment(self, record: EnrolmentRecord) -> None:
        await self._open_school(record.school_id)
        if not (await self._load(Pupil, record.pupil_id)).exists:
            raise RosterError(f"enrolment {record.education_id}: unknown pupil {record.pupil_id}")
        await self._class_of_school(record.class_id, record.school_id)
        education = await self._sync(Education, record.education_id, record, record.education_id)
        await self._conn.execute(
            """INSERT INTO import_pupil_educations (pupil_id, school_id, education_id, active)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (pupil_id, education_id) DO UPDATE SET active = EXCLUDED.active""",
            record.pupil_id,
            record.school_id,
            record.education_id,
            education.active,
        )

    async def _assignment(self, record: TeachingAssignmentRecord) -> None:
        await self._open_school(record.school_id)
        teacher = await self._load(Teacher, record.teacher_id)
        if teacher.school_id != record.school_id:
            raise RosterError(f"assignment {record.assignment_id}: unknown teacher {record.teacher_id}")
        if record.active:
            await self._class_of_school(record.class_id, record.school_id)
            subject = await self._load(Subject, record.subject_id)
            if subject.school_id != record.school_id:
                raise RosterError(f"assignment {record.assignment_id}: unknown subject {record.subject_id}")
        await self._sync(TeachingAssignment, record.assignment_id, record, record.school_id)

    async def _open_school(self, school_id: UUID) -> None:
        if not (await self._load(School, school_id)).open:
            raise RosterError(f"unknown or closed school {school_id}")

    async def _class_of_school(self, class_id: UUID, school_id: UUID) -> None:
        school_class = await self._load(SchoolClass, class_id)
        if not school_class.open or school_class.school_id != school_id:
            raise RosterError(f"unknown or closed class {class_id} in school {school_id}")

    async def _sync(self, kind: type[A], aggregate_id: UUID, record: Any, subject: UUID) -> A:
        aggregate = await self._load(kind, aggregate_id)
        aggregate.sync(record)  # type: ignore[attr-defined]
        await self._save(kind, aggregate, subject)
        return aggregate

    async def _load(self, kind: type[A], aggregate_id: UUID) -> A:
        return await Repository(self._store, kind).load(self._conn, str(aggregate_id))

    async def _save(self, kind: type[A], aggregate: A, subject: UUID) -> None:
        if aggregate.pending:
            await Repository(self._store, kind).save(self._conn, aggregate, subject=str(subject))
