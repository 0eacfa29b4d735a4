"""Where each diary event goes first in the stream, and who hears of a notice (no Kafka)."""

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

from diary_events.applications import ParentLinked
from diary_events.gradebook import AttendanceMarked, MarkRecorded
from diary_kernel.envelope import Envelope
from notifications.entrypoints.stream import _hears, classify
from notifications.service_layer.deliver import RawNotice

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def envelope(event: object) -> Envelope:
    return Envelope.wrap(event, source="/test")  # type: ignore[arg-type]


def test_a_mark_goes_by_education_with_its_facts_and_ids() -> None:
    mark = MarkRecorded(
        mark_id=uuid4(),
        education_id=uuid4(),
        subject_id=uuid4(),
        teacher_id=uuid4(),
        lesson_date=date(2026, 11, 24),
        value="5",
        work_type="контрольная работа",
        weight=3,
        recorded_at=NOW,
    )
    routed = classify(envelope(mark))
    assert routed is not None
    hop, key, message = routed
    assert (hop, key) == ("by-education", str(mark.education_id))
    notice = RawNotice.model_validate(message["notice"])
    assert notice.kind == "mark_new"
    assert notice.facts == {"value": "5", "work_type": "контрольная работа", "lesson_date": "2026-11-24"}
    assert notice.ids == {"subject_id": str(mark.subject_id)}


def test_presence_is_no_news() -> None:
    lesson = {"lesson_id": uuid4(), "class_id": uuid4(), "school_id": uuid4(), "subject_id": uuid4()}
    common = {**lesson, "lesson_date": date(2026, 11, 24), "lesson_number": 1, "education_id": uuid4()}
    present = AttendanceMarked(**common, teacher_id=uuid4(), status="present")
    late = AttendanceMarked(**common, teacher_id=uuid4(), status="late", minutes_late=10)
    assert classify(envelope(present)) is None
    routed = classify(envelope(late))
    assert routed is not None
    assert RawNotice.model_validate(routed[2]["notice"]).kind == "lateness"


def test_a_link_goes_by_pupil_and_tells_the_parent_of_the_approval() -> None:
    link = ParentLinked(
        application_id=uuid4(),
        parent_account_id=uuid4(),
        pupil_id=uuid4(),
        school_id=uuid4(),
        relation="parent",
        linked_at=NOW,
    )
    routed = classify(envelope(link))
    assert routed is not None
    hop, key, message = routed
    assert (hop, key) == ("by-pupil", str(link.pupil_id))
    assert message["since"] == NOW.isoformat()
    assert RawNotice.model_validate(message["notice"]).kind == "application_approved"


def test_a_guardian_hears_of_what_happens_at_the_linked_school_after_the_link() -> None:
    school = str(uuid4())
    link = {"school": school, "since": NOW.isoformat()}

    def notice(at: datetime, at_school: str | None = school) -> RawNotice:
        ids = {"school_id": at_school} if at_school else {}
        return RawNotice(event_id="e", kind="mark_new", occurred_at=at.isoformat(), ids=ids)

    assert _hears(link, notice(NOW + timedelta(seconds=1)))
    assert not _hears(link, notice(NOW - timedelta(days=3)))  # before the link: history, not news
    assert not _hears(link, notice(NOW + timedelta(seconds=1), str(uuid4())))  # another school
