"""The faust-streaming worker: diary events joined with who guards whom, per guardian.

Three hops, each a topic keyed so that the table it needs lives in the same partition:

    gradebook.events.v1, applications.events.v1
      └─ route ─┬─ links and diary notices by pupil ───────────► notifications.by-pupil
                ├─ enrolments and notices by education ────────► notifications.by-education
                └─ homework and class membership by class ─────► notifications.by-class
    by-class:     table class → its educations;  homework fans out to each education
    by-education: table education → pupil, school; notices move on keyed by pupil
    by-pupil:     table pupil → guardians (ParentLinked / ParentUnlinked); each notice is
                  delivered to the pupil's guardians at that school, if it happened after the link

Every table has a changelog topic on Kafka with the partitions of its source topic (faust
recovers the table from it after a restart). Delivery writes to PostgreSQL with a unique
(event, guardian, channel), so a batch faust hands over twice after a crash or a rebalance is
delivered once; faust's `exactly_once` mode is not used.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import faust
from faust.types import StreamT

from diary_events.applications import (
    APPLICATIONS_EVENTS_TOPIC,
    ApplicationRejected,
    ParentLinked,
    ParentUnlinked,
)
from diary_events.gradebook import (
    GRADEBOOK_EVENTS_TOPIC,
    AttendanceMarked,
    FinalMarkSet,
    HomeworkAssigned,
    MarkCorrected,
    MarkRecorded,
    PupilEnrolled,
    PupilLeftSchool,
    PupilTransferred,
)
from diary_kernel.db import Pool, create_pool
from diary_kernel.envelope import Envelope
from diary_kernel.topics import TopicSpec
from notifications.domain.preferences import Preferences
from notifications.service_layer.deliver import RawNotice, deliver

log = logging.getLogger(__name__)

PARTITIONS = 6
"""The partitions of the source topics; every internal topic and changelog has as many."""
STREAM_DLQ_TOPIC = "notifications.stream.dlq"


def _notice(envelope: Envelope, kind: str, **ids_and_facts: Any) -> RawNotice:
    ids = {k: str(v) for k, v in ids_and_facts.items() if k.endswith("_id") and v is not None}
    facts = {k: str(v) for k, v in ids_and_facts.items() if not k.endswith("_id") and v is not None}
    return RawNotice(
        event_id=envelope.id,
        kind=kind,
        occurred_at=(envelope.time or datetime.now(UTC)).isoformat(),
        ids=ids,
        facts=facts,
    )


def _to(hop: str, key: object, notice: RawNotice) -> tuple[str, str, dict[str, Any]]:
    """A notice bound for a hop (or straight to a guardian), keyed as that hop is."""
    return hop, str(key), {"type": "notice", "notice": notice.model_dump()}


def classify(envelope: Envelope) -> tuple[str, str, dict[str, Any]] | None:
    """Which hop an event goes to first, keyed by what: (topic, key, message), or None."""
    event = envelope.decode()
    match event:
        case ParentUnlinked() | ParentLinked():
            linked = isinstance(event, ParentLinked)
            message: dict[str, Any] = {
                "type": "link" if linked else "unlink",
                "account": str(event.parent_account_id),
                "school": str(event.school_id),
                "since": event.linked_at.isoformat() if isinstance(event, ParentLinked) else None,
            }
            if linked:  # the parent is told the school approved
                notice = _notice(envelope, "application_approved", school_id=event.school_id)
                message["notice"] = notice.model_dump()
            return "by-pupil", str(event.pupil_id), message
        case ApplicationRejected():
            notice = _notice(
                envelope,
                "application_rejected",
                school_id=event.school_id,
                reason=event.reason,
                comment=event.comment,
            )
            return _to("direct", event.parent_account_id, notice)
        case PupilEnrolled() | PupilTransferred() | PupilLeftSchool():
            class_id = event.to_class_id if isinstance(event, PupilTransferred) else event.class_id
            message = {  # one message shape per hop: see the module's docstring
                "type": "enrolment",
                "pupil": str(event.pupil_id),
                "school": str(event.school_id),
                "class": str(class_id),
                "from_class": str(event.from_class_id) if isinstance(event, PupilTransferred) else None,
                "active": not isinstance(event, PupilLeftSchool),
            }
            return "by-education", str(event.education_id), message
        case MarkRecorded():
            notice = _notice(
                envelope,
                "mark_new",
                subject_id=event.subject_id,
                class_id=event.class_id,
                value=event.value,
                work_type=event.work_type,
                lesson_date=event.lesson_date,
            )
            return _to("by-education", event.education_id, notice)
        case MarkCorrected():
            notice = _notice(envelope, "mark_corrected", value=event.value, reason=event.reason)
            return _to("by-education", event.education_id, notice)
        case AttendanceMarked() if event.status != "present":
            kind = "absence" if event.status == "absent" else "lateness"
            notice = _notice(
                envelope,
                kind,
                subject_id=event.subject_id,
                lesson_date=event.lesson_date,
                lesson_number=event.lesson_number,
                reason=event.absence_reason,
                minutes_late=event.minutes_late,
            )
            return _to("by-education", event.education_id, notice)
        case FinalMarkSet():
            notice = _notice(
                envelope,
                "final_mark",
                subject_id=event.subject_id,
                period_id=event.period_id,
                value=event.value,
            )
            return _to("by-education", event.education_id, notice)
        case HomeworkAssigned() if type(event) is HomeworkAssigned:  # not HomeworkChanged
            notice = _notice(
                envelope, "homework", subject_id=event.subject_id, due_on=event.due_on, text=event.text[:300]
            )
            return _to("by-class", event.class_id, notice)
    return None


SOURCES = (GRADEBOOK_EVENTS_TOPIC, APPLICATIONS_EVENTS_TOPIC)
HOPS = ("by-class", "by-education", "by-pupil")
TABLES = ("class-members", "pupil-of-education", "guardians")


def stream_topics(*, app_id: str, topic_prefix: str) -> list[TopicSpec]:
    """Every topic the worker reads or writes, made before it starts.

    A topic faust creates itself while its consumer is already subscribed may stay unassigned
    until the next metadata refresh (minutes), which would hold every notice back.
    """
    compacted = {"cleanup.policy": "compact"}
    forever = {"retention.ms": "-1"}
    return [
        *(TopicSpec(f"{topic_prefix}{source}", PARTITIONS, config=forever) for source in SOURCES),
        *(TopicSpec(f"{topic_prefix}notifications.{hop}", PARTITIONS) for hop in HOPS),
        *(
            TopicSpec(f"{topic_prefix}{app_id}-{table}-changelog", PARTITIONS, config=compacted)
            for table in TABLES
        ),
        TopicSpec(f"{topic_prefix}{STREAM_DLQ_TOPIC}", 1),
    ]


async def delivered(topic: faust.TopicT, **message: Any) -> None:
    """Send to the next hop and wait for the broker's acknowledgement.

    faust commits a source offset once the agent moves past the event; `send` alone only queues
    the message, so a crash right after could commit an offset whose message never left.
    """
    pending = await topic.send(**message)
    await pending


def _hears(link: dict[str, str], notice: RawNotice) -> bool:
    """A guardian hears of what happens at the linked school from the moment of the link on."""
    school = notice.ids.get("school_id")
    if school is not None and link["school"] != school:
        return False
    return datetime.fromisoformat(notice.occurred_at) >= datetime.fromisoformat(link["since"])


class _Pool:
    """The worker's PostgreSQL pool, opened on first use inside faust's event loop."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: Pool | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await create_pool(self.dsn, max_size=5)
            return self._pool


def build_stream_app(
    *,
    app_id: str,
    bootstrap_servers: str,
    topic_prefix: str,
    database_url: str,
    max_notice_age: timedelta = timedelta(hours=72),
    default_preferences: Preferences | None = None,
) -> faust.App:
    """`max_notice_age`: older events still build the tables but tell nobody (a first start on a
    platform with years of history must not mail all of it)."""
    app = faust.App(
        f"{topic_prefix}{app_id}",
        datadir=str(Path(tempfile.gettempdir()) / "diary-notifications-worker"),  # tables live in memory
        broker=f"kafka://{bootstrap_servers}",
        store="memory://",
        topic_partitions=PARTITIONS,
        topic_replication_factor=1,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_every=100,
        broker_commit_interval=1.0,
        # A crashed worker's partitions go to the next one within seconds, not a minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
    )
    pool = _Pool(database_url)

    def internal(name: str) -> faust.TopicT:
        return app.topic(
            f"{topic_prefix}notifications.{name}",
            partitions=PARTITIONS,
            key_type=str,
            value_serializer="json",
            internal=True,
        )

    sources = app.topic(
        *(f"{topic_prefix}{source}" for source in SOURCES),
        key_serializer="raw",
        value_serializer="raw",
    )
    hops = {name: internal(name) for name in HOPS}
    dead_letters = app.topic(
        f"{topic_prefix}{STREAM_DLQ_TOPIC}", partitions=1, key_serializer="raw", value_serializer="raw"
    )
    class_members, pupil_of_education, guardians = (
        app.Table(name, default=default, partitions=PARTITIONS)
        for name, default in zip(TABLES, (list, dict, dict), strict=True)
    )

    def fresh(notice: RawNotice) -> bool:
        return datetime.now(UTC) - datetime.fromisoformat(notice.occurred_at) <= max_notice_age

    async def to_guardian(account: str, message: dict[str, Any]) -> None:
        notice = RawNotice.model_validate(message["notice"])
        if fresh(notice):
            await deliver(await pool.get(), notice, [UUID(account)], defaults=default_preferences)

    @app.agent(sources)
    async def route(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            try:
                envelope = Envelope.from_kafka(list(event.headers.items()), event.value)
                routed = classify(envelope)
            except ValueError as exc:  # MalformedEvent, or a body that is not JSON
                reason = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("a poison message went to the dead-letter topic", extra={"reason": reason})
                await delivered(
                    dead_letters,
                    key=event.key,
                    value=event.value,
                    headers={**dict(event.headers), "dlq_reason": reason.encode()},
                )
                continue
            if routed is None:
                continue
            hop, key, message = routed
            if hop == "direct":
                await to_guardian(key, message)
            else:
                await delivered(hops[hop], key=key, value=message)

    @app.agent(hops["by-class"])
    async def by_class(stream: StreamT[dict[str, Any]]) -> None:
        async for event in stream.events():
            class_id, message = str(event.key), event.value
            if message["type"] == "membership":
                members = [m for m in class_members[class_id] if m != message["education"]]
                if message["member"]:
                    members.append(message["education"])
                class_members[class_id] = members
            else:  # homework: every pupil of the class hears of it
                for education in class_members[class_id]:
                    await delivered(hops["by-education"], key=education, value=message)

    @app.agent(hops["by-education"])
    async def by_education(stream: StreamT[dict[str, Any]]) -> None:
        async for event in stream.events():
            education, message = str(event.key), event.value
            if message["type"] == "enrolment":
                pupil_of_education[education] = {
                    "pupil": message["pupil"],
                    "school": message["school"],
                    "class": message["class"],
                }
                if message.get("from_class"):
                    await delivered(
                        hops["by-class"],
                        key=message["from_class"],
                        value={"type": "membership", "education": education, "member": False},
                    )
                await delivered(
                    hops["by-class"],
                    key=message["class"],
                    value={"type": "membership", "education": education, "member": message["active"]},
                )
                continue
            owner = pupil_of_education[education]
            if not owner:
                log.info("a notice for an education not enrolled yet was dropped")
                continue
            notice = dict(message["notice"])
            notice["ids"] = {"class_id": owner["class"], **notice["ids"], "school_id": owner["school"]}
            notice["pupil_id"] = owner["pupil"]
            await delivered(hops["by-pupil"], key=owner["pupil"], value={"type": "notice", "notice": notice})

    @app.agent(hops["by-pupil"])
    async def by_pupil(stream: StreamT[dict[str, Any]]) -> None:
        async for event in stream.events():
            pupil, message = str(event.key), event.value
            if message["type"] in ("link", "unlink"):
                linked = dict(guardians[pupil])
                if message["type"] == "link":
                    linked[message["account"]] = {"school": message["school"], "since": message["since"]}
                else:
                    linked.pop(message["account"], None)
                guardians[pupil] = linked
                if message.get("notice"):
                    await to_guardian(message["account"], message)
                continue
            notice = RawNotice.model_validate(message["notice"])
            readers = [UUID(account) for account, link in guardians[pupil].items() if _hears(link, notice)]
            if readers and fresh(notice):
                await deliver(await pool.get(), notice, readers, defaults=default_preferences)

    return app
