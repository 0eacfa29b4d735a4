"""The journal's view of the roster, answered from the roster read model on the command's connection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from diary_kernel.db import Connection
from gradebook.adapters import diary_queries
from gradebook.adapters import roster_read_model as roster
from gradebook.service_layer.journal import ClassFacts, EducationFacts, PeriodFacts


class SqlRoster:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def class_facts(self, class_id: UUID) -> ClassFacts | None:
        info = await roster.class_info(self._conn, class_id)
        if info is None:
            return None
        return ClassFacts(
            info.class_id, info.school_id, info.school_year_id, info.form_teacher_id, info.closed
        )

    async def education_facts(self, education_id: UUID, on: date) -> EducationFacts | None:
        info = await roster.education_at(self._conn, education_id, on)
        if info is None or info.class_id is None:
            return None
        return EducationFacts(info.education_id, info.school_id, info.class_id, info.active)

    async def is_assigned(self, teacher_id: UUID, class_id: UUID, subject_id: UUID) -> bool:
        return await roster.is_assigned(self._conn, teacher_id, class_id, subject_id)

    async def teaches_class(self, teacher_id: UUID, class_id: UUID) -> bool:
        return await roster.teaches_class(self._conn, teacher_id, class_id)

    async def period_facts(self, period_id: UUID) -> PeriodFacts | None:
        info = await roster.period_info(self._conn, period_id)
        if info is None:
            return None
        return PeriodFacts(info.period_id, info.school_year_id, info.school_id, info.starts_on, info.ends_on)

    async def weighted_average(
        self, education_id: UUID, subject_id: UUID, date_from: date, date_to: date
    ) -> Decimal | None:
        return await diary_queries.weighted_average(self._conn, education_id, subject_id, date_from, date_to)
