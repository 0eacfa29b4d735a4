"""Command handlers of the class journal.

Each handler loads the aggregate, lets the domain decide, and saves the events in one unit of
work, so the events and their outbox rows commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from diary_kernel.eventstore import ConcurrencyError
from diary_kernel.uow import UnitOfWork
from gradebook.domain.marks import CorrectMark, Mark, RecordMark

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outcome:
    version: int
    created: bool


async def record_mark(uow: UnitOfWork, command: RecordMark, clock: Clock = utc_now) -> Outcome:
    """Record a mark; repeating the same recording (a retried request) is not an error."""
    async with uow:
        marks = uow.repository(Mark)
        mark = await marks.get(str(command.mark_id))
        if mark.exists and mark.is_same_record(command):
            return Outcome(mark.version, created=False)
        mark.record(command, clock())
        version = await marks.save(mark, subject=str(command.education_id))
    return Outcome(version, created=True)


async def correct_mark(
    uow: UnitOfWork, command: CorrectMark, *, expected_version: int | None, clock: Clock = utc_now
) -> int:
    """Correct a mark; with `expected_version`, refuse if someone changed it since it was read."""
    async with uow:
        marks = uow.repository(Mark)
        mark = await marks.get(str(command.mark_id))
        if expected_version is not None and mark.exists and mark.version != expected_version:
            raise ConcurrencyError(marks.stream_id(mark.id), expected_version, mark.version)
        mark.correct(command, clock())
        return await marks.save(mark, subject=str(mark.education_id))
