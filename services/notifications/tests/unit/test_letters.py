"""What a guardian reads: feed items, instant letters and the daily digest, in Russian."""

import html
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest

from notifications.domain.letters import (
    Letter,
    count_of,
    digest_letter,
    feed_item,
    instant_letter,
    plural,
    ru_date,
)
from notifications.domain.notices import NOTICE_KINDS, Notice, NoticeKind, notice_from_dict, notice_to_dict

DIARY = "https://petersburgedu.example/diary?pupil=1&tab=marks"
UNSUBSCRIBE = "https://petersburgedu.example/unsubscribe?token=a&b=c"
URLS = {"diary_url": DIARY, "unsubscribe_url": UNSUBSCRIBE}
PUPIL = UUID("00000000-0000-4000-8000-000000000001")
MONDAY = date(2025, 11, 24)
AT = datetime(2025, 11, 24, 11, 5, tzinfo=UTC)  # 14:05 in Moscow


def notice(
    kind: NoticeKind = "mark_new",
    *,
    at: datetime = AT,
    event_id: str | None = None,
    pupil_id: UUID | None = PUPIL,
    **facts: str,
) -> Notice:
    return Notice(event_id or str(uuid4()), kind, at, pupil_id, facts)


def math_five(**overrides: str) -> Notice:
    facts = {
        "subject": "Математика",
        "value": "5",
        "work_type": "контрольная работа",
        "lesson_date": "2025-11-24",
        "class_name": "5А",
    }
    facts.update(overrides)
    return Notice(str(uuid4()), "mark_new", AT, PUPIL, facts)


def both_parts(letter: Letter) -> tuple[str, str]:
    return letter.text, letter.html


# --- Russian words -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "word"),
    [
        (1, "оценка"),
        (2, "оценки"),
        (5, "оценок"),
        (11, "оценок"),
        (12, "оценок"),
        (14, "оценок"),
        (21, "оценка"),
        (22, "оценки"),
        (25, "оценок"),
        (111, "оценок"),
        (0, "оценок"),
    ],
)
def test_plural_picks_the_russian_form_for_the_number(n: int, word: str) -> None:
    assert plural(n, "оценка", "оценки", "оценок") == word
    assert count_of(n, "оценка", "оценки", "оценок") == f"{n} {word}"


def test_dates_are_written_the_russian_way() -> None:
    assert ru_date(MONDAY) == "24 ноября"
    assert ru_date(MONDAY, weekday=True) == "пн, 24 ноября"
    assert ru_date(date(2026, 3, 1), weekday=True) == "вс, 1 марта"


# --- the feed ------------------------------------------------------------------------------------


def test_a_feed_item_says_the_mark_the_subject_the_work_and_the_day() -> None:
    item = feed_item(math_five())
    assert item.title == "Новая оценка: 5"
    assert "Математика" in item.body
    assert "контрольная работа" in item.body
    assert "24 ноября" in item.body
    assert len(item.body.splitlines()) <= 2


@pytest.mark.parametrize("value", ["5", "1", "зачёт", "незачёт", "н/а"])
def test_a_mark_is_shown_as_the_journal_gives_it(value: str) -> None:
    assert feed_item(math_five(value=value)).title == f"Новая оценка: {value}"


def test_a_long_homework_stays_short_in_the_feed() -> None:
    item = feed_item(notice("homework", subject="Литература", due_on="2025-11-26", text="Читать " * 50))
    assert "на ср, 26 ноября" in item.body
    assert len(item.body.splitlines()) == 2
    assert len(item.body.splitlines()[1]) <= 140


# --- instant letters -----------------------------------------------------------------------------


def test_the_subject_and_text_name_the_mark_and_the_subject() -> None:
    letter = instant_letter(math_five(value="4"), **URLS)
    for part in (letter.subject, letter.text, letter.html):
        assert "4" in part
        assert "Математика" in part


def test_a_letter_dates_the_lesson_and_gives_the_time_in_moscow() -> None:
    text, page = both_parts(instant_letter(math_five(), **URLS))
    for part in (text, page):
        assert "пн, 24 ноября" in part
        assert "14:05" in part  # 11:05 UTC
        assert "московское" in part


def test_a_letter_says_where_it_comes_from_and_links_the_diary_and_the_unsubscribe_page() -> None:
    text, page = both_parts(instant_letter(math_five(), **URLS))
    for part in (text, page):
        assert "«Электронный дневник»" in part
        assert "«Петербургское образование»" in part
        assert "Отписаться от этих писем: " in part
    assert DIARY in text
    assert UNSUBSCRIBE in text
    assert f'href="{html.escape(DIARY)}"' in page
    assert f'href="{html.escape(UNSUBSCRIBE)}"' in page


def test_a_fact_cannot_inject_markup_into_the_html() -> None:
    letter = instant_letter(math_five(subject="<script>alert('x')</script>"), **URLS)
    assert "<script>" not in letter.html
    assert "&lt;script&gt;" in letter.html
    assert "<script>" in letter.text  # plain text shows it as the harmless text it is


def test_the_html_is_self_contained() -> None:
    page = instant_letter(math_five(), **URLS).html
    assert "<img" not in page
    assert "<link" not in page
    assert "src=" not in page
    assert 'lang="ru"' in page


def test_a_child_is_spoken_of_by_class_or_as_your_child() -> None:
    assert "ученика 5А" in instant_letter(math_five(), **URLS).text
    without_class = notice("absence", subject="Физика", lesson_date="2025-11-24")
    assert "вашего ребёнка" in instant_letter(without_class, **URLS).text


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_no_facts_at_all_still_give_a_polite_letter_and_feed_item(kind: NoticeKind) -> None:
    bare = notice(kind, pupil_id=None)
    letter = instant_letter(bare, **URLS)
    item = feed_item(bare)
    assert letter.subject.strip()
    assert "Здравствуйте" in letter.text
    assert UNSUBSCRIBE in letter.text
    assert item.title.strip()
    assert item.body.strip()
    assert "None" not in letter.text + item.title + item.body
    digest_letter([bare], MONDAY, **URLS)


def test_an_odd_date_fact_is_shown_as_given_rather_than_failing() -> None:
    item = feed_item(math_five(lesson_date="на прошлой неделе"))
    assert "на прошлой неделе" in item.body


def test_a_correction_says_what_the_mark_was_and_why_it_changed() -> None:
    corrected = notice("mark_corrected", subject="Химия", value="4", previous_value="3", reason="пересдача")
    text = instant_letter(corrected, **URLS).text
    assert "Было: 3, стало: 4" in text
    assert "пересдача" in text
    assert "Было" not in instant_letter(notice("mark_corrected", value="4"), **URLS).text


def test_an_absence_gives_the_lesson_and_the_reason() -> None:
    absence = notice(
        "absence", subject="Физика", lesson_date="2025-11-24", lesson_number="3", reason="illness"
    )
    item = feed_item(absence)
    assert item.title == "Пропуск урока"
    assert "3-й урок" in item.body
    assert "по болезни" in item.body


@pytest.mark.parametrize(("minutes", "words"), [("1", "1 минуту"), ("3", "3 минуты"), ("15", "15 минут")])
def test_lateness_counts_minutes_in_russian(minutes: str, words: str) -> None:
    assert feed_item(notice("lateness", minutes_late=minutes)).title == f"Опоздание на {words}"


def test_a_rejected_application_gives_the_reason_and_the_schools_comment() -> None:
    rejected = notice(
        "application_rejected",
        pupil_id=None,
        school_name="ГБОУ СОШ № 123",
        reason_text="Не подтверждено родство",
        comment="Принесите свидетельство о рождении",
    )
    text = instant_letter(rejected, **URLS).text
    assert "Заявление отклонено" in text
    assert "Не подтверждено родство" in text
    assert "Принесите свидетельство о рождении" in text
    assert "ГБОУ СОШ № 123" in text


def test_a_low_balance_letter_gives_the_balance_and_the_threshold() -> None:
    low = notice("low_balance", balance_rub="85,40", threshold_rub="100")
    letter = instant_letter(low, **URLS)
    assert "85,40 ₽" in letter.subject
    assert "100 ₽" in letter.text


def test_a_link_that_is_not_a_web_address_is_refused() -> None:
    with pytest.raises(ValueError, match="diary_url"):
        instant_letter(math_five(), diary_url="javascript:alert(1)", unsubscribe_url=UNSUBSCRIBE)


def test_the_subject_is_one_line_whatever_the_facts_hold() -> None:
    letter = instant_letter(math_five(subject="Математика\nBcc: someone@example.org"), **URLS)
    assert "\n" not in letter.subject


# --- the daily digest ----------------------------------------------------------------------------


def day_of_notices() -> list[Notice]:
    return [
        notice("mark_new", at=datetime(2025, 11, 24, 12, 0, tzinfo=UTC), subject="Физика", value="3"),
        notice("absence", at=datetime(2025, 11, 24, 8, 0, tzinfo=UTC), subject="История"),
        notice("mark_new", at=datetime(2025, 11, 24, 7, 0, tzinfo=UTC), subject="Математика", value="5"),
        notice("mark_new", at=datetime(2025, 11, 24, 9, 0, tzinfo=UTC), subject="Биология", value="4"),
    ]


def test_the_digest_subject_counts_what_happened() -> None:
    letter = digest_letter(day_of_notices(), MONDAY, **URLS)
    assert letter.subject == "Дневник за 24 ноября: 3 оценки, 1 пропуск"


def test_the_digest_groups_by_kind_in_time_order() -> None:
    text = digest_letter(day_of_notices(), MONDAY, **URLS).text
    assert text.index("Новые оценки") < text.index("Математика") < text.index("Биология")
    assert text.index("Биология") < text.index("Физика") < text.index("Пропуски") < text.index("История")
    assert "10:00" in text  # 07:00 UTC, in Moscow time


def test_the_digest_counts_with_the_right_russian_forms() -> None:
    marks = [notice("mark_new", value="5") for _ in range(5)]
    absences = [notice("absence") for _ in range(2)]
    homework = [notice("homework") for _ in range(21)]
    subject = digest_letter(marks + absences + homework, MONDAY, **URLS).subject
    assert "5 оценок" in subject
    assert "2 пропуска" in subject
    assert "21 домашнее задание" in subject


def test_the_same_event_twice_is_listed_once() -> None:
    first = math_five()
    same = [first, Notice(first.event_id, "mark_new", first.occurred_at, PUPIL, first.facts)]
    assert digest_letter(same, MONDAY, **URLS).subject.endswith(": 1 оценка")


def test_the_digest_has_the_links_and_escapes_facts_like_a_single_letter() -> None:
    letter = digest_letter([math_five(subject="<script>x</script>")], MONDAY, **URLS)
    assert DIARY in letter.text
    assert UNSUBSCRIBE in letter.text
    assert html.escape(DIARY) in letter.html
    assert html.escape(UNSUBSCRIBE) in letter.html
    assert "<script>" not in letter.html


def test_an_evening_before_the_digest_day_is_shown_with_its_date() -> None:
    evening = notice("mark_new", at=datetime(2025, 11, 23, 17, 30, tzinfo=UTC), value="4")  # Sun 20:30 MSK
    assert "вс, 23 ноября, 20:30" in digest_letter([evening], MONDAY, **URLS).text


def test_a_digest_about_two_children_says_which_one_each_line_is_about() -> None:
    other = uuid4()
    text = digest_letter(
        [math_five(), notice("mark_new", pupil_id=other, value="3", class_name="9Б")], MONDAY, **URLS
    ).text
    assert "Ученик 5А" in text
    assert "Ученик 9Б" in text


def test_a_digest_about_one_child_does_not_repeat_the_class_on_every_line() -> None:
    text = digest_letter([math_five(), math_five(value="4")], MONDAY, **URLS).text
    assert "Ученик 5А" not in text


def test_an_empty_digest_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        digest_letter([], MONDAY, **URLS)


# --- notices -------------------------------------------------------------------------------------


def test_a_notice_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        Notice("e", "mark_new", datetime(2025, 11, 24, 12, 0), PUPIL, {})


def test_a_notice_survives_being_stored_as_json() -> None:
    original = math_five()
    assert notice_from_dict(notice_to_dict(original)) == original
    with pytest.raises(ValueError, match="kind"):
        notice_from_dict({**notice_to_dict(original), "kind": "gossip"})


def test_a_notices_facts_cannot_change_under_it() -> None:
    facts = {"value": "5"}
    stored = Notice("e", "mark_new", datetime(2025, 11, 24, 12, 0, tzinfo=UTC), PUPIL, facts)
    facts["value"] = "2"
    assert stored.facts["value"] == "5"
