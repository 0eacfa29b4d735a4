"""Inbound: when the roster says a pupil left a school, every parent link to them there ends.

A move to another school is a new enrolment with a new diary there; the parents apply again to
the new school, which checks them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from applications.domain.applications import AccessApplication
from applications.service_layer.applications import end_links_of_pupil
from diary_events.gradebook import GRADEBOOK_EVENTS_TOPIC, PupilLeftSchool
from diary_kernel.aggregate import Repository
from diary_kernel.db import Connection
from diary_kernel.envelope import Envelope
from diary_kernel.eventstore import EventStore


class LinksEndWhenPupilLeaves:
    name = "applications.links-end"
    topics: Sequence[str] = (GRADEBOOK_EVENTS_TOPIC,)
    tables: Sequence[str] = ()

    def __init__(self, store: EventStore) -> None:
        self._applications = Repository(store, AccessApplication)

    async def apply(self, conn: Connection, event: Envelope) -> None:
        if event.type != PupilLeftSchool.event_type:
            return
        left = event.decode()
        assert isinstance(left, PupilLeftSchool)
        await end_links_of_pupil(self._applications, conn, left.pupil_id, left.school_id, datetime.now(UTC))
