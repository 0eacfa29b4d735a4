"""The pure parts of the diary queries: weeks, averages, positions, and putting a week together."""

from datetime import date, time
from decimal import Decimal
from uuid import uuid4

from gradebook.adapters.diary_queries import (
    _Names,
    assemble_days,
    competition_positions,
    full_name,
    rounded_average,
    week_of,
)
from gradebook.domain.lessons import lesson_id_for


def test_a_week_runs_monday_to_sunday() -> None:
    week = week_of(date(2025, 10, 8))
    assert (week[0], week[-1], len(week)) == (date(2025, 10, 6), date(2025, 10, 12), 7)
    assert week_of(date(2025, 10, 12)) == week


def test_averages_round_half_up_to_two_places() -> None:
    assert rounded_average(14, 3) == Decimal("4.67")
    assert rounded_average(9, 2) == Decimal("4.50")
    assert rounded_average(0, 0) is None
    assert rounded_average(None, None) is None


def test_equal_averages_share_a_position_and_the_next_is_skipped() -> None:
    a, b, c, d = (uuid4() for _ in range(4))
    positions = competition_positions({a: Decimal(5), b: Decimal("4.5"), c: Decimal("4.5"), d: Decimal(3)})
    assert positions == {a: 1, b: 2, c: 2, d: 4}


def test_full_name_skips_what_is_missing() -> None:
    assert full_name("Иванова", "Мария", None) == "Иванова Мария"
    assert full_name(None, None, None) is None


def test_a_week_applies_changes_and_places_marks() -> None:
    monday = date(2025, 10, 6)
    class_id, maths, history, teacher = uuid4(), uuid4(), uuid4(), uuid4()
    slot = {"lesson_date": monday, "starts_at": time(9), "ends_at": time(9, 45), "room": "101"}
    slots = [
        {**slot, "lesson_number": 1, "subject_id": maths, "teacher_id": teacher},
        {**slot, "lesson_number": 2, "subject_id": maths, "teacher_id": teacher},
    ]
    changes = [
        {
            "lesson_date": monday,
            "lesson_number": 1,
            "kind": "cancellation",
            "subject_id": None,
            "teacher_id": None,
            "room": None,
            "reason": "праздник",
        },
        {
            "lesson_date": monday,
            "lesson_number": 3,
            "kind": "substitution",
            "subject_id": history,
            "teacher_id": teacher,
            "room": "7",
            "reason": None,
        },
    ]
    mark = {
        "mark_id": uuid4(),
        "subject_id": maths,
        "teacher_id": teacher,
        "lesson_id": None,
        "lesson_date": monday,
        "lesson_number": None,
        "value": "5",
        "work_type": "ответ",
        "weight": 1,
        "comment": None,
        "version": 1,
        "recorded_at": None,
        "corrected_at": None,
        "correction_reason": None,
    }
    days = assemble_days([monday], [class_id], slots, changes, [], [], [mark], [], [], _Names())
    (day,) = days
    assert [(lesson.lesson_number, lesson.status) for lesson in day.lessons] == [
        (1, "cancelled"),
        (2, "scheduled"),
        (3, "substituted"),
    ]
    # A mark naming no lesson goes to the first lesson of its subject that takes place.
    assert [m.mark_id for m in day.lessons[1].marks] == [mark["mark_id"]]
    assert day.lessons[2].subject_id == history
    assert day.lessons[2].starts_at is None
    assert day.lessons[1].lesson_id == lesson_id_for(class_id, monday, 2)
