"""The class journal's decisions about marks, without any I/O."""

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from diary_events.gradebook import MarkCorrected, MarkRecorded
from gradebook.adapters.diary_read_model import subject_averages
from gradebook.domain.errors import JournalError
from gradebook.domain.marks import CorrectMark, Mark, RecordMark, WorkType

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def record_command(**overrides: object) -> RecordMark:
    values: dict[str, object] = {
        "mark_id": uuid4(),
        "education_id": uuid4(),
        "subject_id": uuid4(),
        "teacher_id": uuid4(),
        "lesson_date": date(2026, 11, 19),
        "value": "5",
        "work_type": WorkType.TEST,
    }
    values.update(overrides)
    return RecordMark(**values)  # type: ignore[arg-type]


def test_recording_a_mark_raises_mark_recorded_with_the_weight_of_the_work_type() -> None:
    command = record_command()
    mark = Mark(str(command.mark_id))
    mark.record(command, NOW)

    [event] = mark.pending
    assert isinstance(event, MarkRecorded)
    assert event.weight == 3
    assert event.work_type == "контрольная работа"
    assert mark.version == 1
    assert mark.stored_version == 0


def test_a_mark_cannot_be_recorded_twice_or_for_a_future_lesson() -> None:
    command = record_command()
    mark = Mark(str(command.mark_id))
    mark.record(command, NOW)
    with pytest.raises(JournalError, match="already recorded"):
        mark.record(command, NOW)
    with pytest.raises(JournalError, match="future") as caught:
        Mark("m").record(record_command(lesson_date=date(2026, 11, 21)), NOW)
    assert caught.value.field == "lesson_date"


def test_a_retry_of_the_same_recording_is_recognised() -> None:
    command = record_command()
    mark = Mark.rehydrate(str(command.mark_id), [])
    mark.record(command, NOW)
    assert mark.is_same_record(command)
    assert not mark.is_same_record(record_command(mark_id=command.mark_id, value="4"))


def test_a_correction_needs_a_recorded_mark_a_new_value_and_a_reason() -> None:
    command = record_command()
    mark = Mark(str(command.mark_id))
    with pytest.raises(JournalError, match="no such mark"):
        mark.correct(CorrectMark(command.mark_id, "4", "typo"), NOW)
    mark.record(command, NOW)
    with pytest.raises(JournalError, match="reason"):
        mark.correct(CorrectMark(command.mark_id, "4", "   "), NOW)
    with pytest.raises(JournalError, match="already has"):
        mark.correct(CorrectMark(command.mark_id, "5", "typo"), NOW)

    mark.correct(CorrectMark(command.mark_id, "4", " пересдача "), NOW)
    corrected = mark.pending[-1]
    assert isinstance(corrected, MarkCorrected)
    assert corrected.reason == "пересдача"
    assert mark.value == "4"
    assert mark.version == 2


def test_weighted_averages_per_subject_count_only_numeric_marks() -> None:
    maths, music = uuid4(), uuid4()
    marks = [
        {"subject_id": maths, "value": "5", "weight": 3},
        {"subject_id": maths, "value": "3", "weight": 1},
        {"subject_id": maths, "value": "н/а", "weight": 1},
        {"subject_id": music, "value": "зачёт", "weight": 1},
    ]
    averages = {a.subject_id: a for a in subject_averages(marks)}
    assert averages[maths].weighted_average == Decimal("4.50")
    assert averages[maths].marks == 3
    assert averages[music].weighted_average is None
