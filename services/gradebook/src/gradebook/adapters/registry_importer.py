"""Inbound consumers of the regional integration topics: the school registry and the exam centre.

They run on the kernel's projector runner, so each message is imported once (inbox by
CloudEvents id), and a message that is malformed, of an unknown type, or refers to something
the gradebook does not know goes to the consumer's dead-letter topic with the reason while the
rest of the partition flows on.
"""

from __future__ import annotations

from collections.abc import Sequence

from diary_events.exams import EXAM_RESULTS_TOPIC, ExamResultRecord
from diary_events.registry import REGISTRY_ROSTER_TOPIC, PupilRecord, RegistryRecord
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope
from diary_kernel.eventstore import EventStore
from diary_kernel.personal_data import PersonalDataKeys
from diary_kernel.projector import RejectedEvent
from gradebook.domain.roster import RosterError
from gradebook.service_layer.roster_import import RosterImport


def _record_id(record: RegistryRecord) -> tuple[str, object]:
    """The registry's id of the record itself (a class record's id is its class_id, ...)."""
    own = {
        "SchoolRecord": "school_id",
        "SubjectRecord": "subject_id",
        "SchoolYearRecord": "school_year_id",
        "ClassRecord": "class_id",
        "PupilRecord": "pupil_id",
        "EnrolmentRecord": "education_id",
        "TeacherRecord": "teacher_id",
        "TeachingAssignmentRecord": "assignment_id",
    }[type(record).__name__]
    if isinstance(record, PupilRecord):
        # The same person is published by each school they attend, each with its own revisions.
        return f"PupilRecord/{record.school_id}", record.pupil_id
    return type(record).__name__, getattr(record, own)


class RegistryImporter:
    """Mirrors `integration.registry.roster.v1` into the roster aggregates."""

    name = "gradebook.registry-import"
    topics: Sequence[str] = (REGISTRY_ROSTER_TOPIC,)
    tables: Sequence[str] = ()

    def __init__(self, store: EventStore, keys: PersonalDataKeys | None = None) -> None:
        self._store = store
        self._keys = keys or PersonalDataKeys()

    async def apply(self, conn: Connection, event: Envelope) -> None:
        record = event.decode()
        if not isinstance(record, RegistryRecord):
            raise RejectedEvent(f"{event.type} is not a registry record the gradebook imports")
        importing = RosterImport(conn, self._store, self._keys)
        record_type, record_id = _record_id(record)
        try:
            if await importing.newer(record_type, record_id, record.revision):  # type: ignore[arg-type]
                await importing.record(record)
        except RosterError as error:
            raise RejectedEvent(str(error)) from error


class ExamResultsImporter:
    """Mirrors `integration.exams.results.v1` into exam results shown in the pupil's diary."""

    name = "gradebook.exam-import"
    topics: Sequence[str] = (EXAM_RESULTS_TOPIC,)
    tables: Sequence[str] = ()

    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def apply(self, conn: Connection, event: Envelope) -> None:
        record = event.decode()
        if not isinstance(record, ExamResultRecord):
            raise RejectedEvent(f"{event.type} is not an exam result the gradebook imports")
        importing = RosterImport(conn, self._store, PersonalDataKeys())
        if await importing.newer("ExamResultRecord", record.result_id, record.revision):
            await importing.exam_result(record)
