"""The words of a notice: a feed item, an instant letter, a daily digest.

Each kind is described once (`_describe`) as a title, a one-line summary and a few detail lines;
the feed, the plain text and the HTML are all cut from that description, so the two parts of a
letter always say the same thing. A child is never named (the service does not know names and
must not spread them): the texts say «ученик 5А» or «ваш ребёнок». Missing or odd facts only make
the wording plainer; rendering never fails on them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from notifications.domain.notices import KIND_TITLES, NOTICE_KINDS, Notice, NoticeKind
from notifications.domain.preferences import MOSCOW

SERVICE = "«Электронный дневник»"
PORTAL = "«Петербургское образование»"

MONTHS_GENITIVE = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
WEEKDAYS_SHORT = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")

HOMEWORK_TEXT_LIMIT = 300
"""The stream already cuts homework text to this; cut again so a letter never grows unbounded."""
FEED_TEXT_LIMIT = 140
SUBJECT_LIMIT = 150

_SIGNATURE = (
    f"Это письмо отправлено автоматически сервисом {SERVICE} портала {PORTAL}. Отвечать на него не нужно."
)
_UNSUBSCRIBE = "Отписаться от этих писем: "

_COUNT_NOUNS: dict[NoticeKind, tuple[str, str, str]] = {
    "mark_new": ("оценка", "оценки", "оценок"),
    "mark_corrected": ("исправление оценки", "исправления оценок", "исправлений оценок"),
    "absence": ("пропуск", "пропуска", "пропусков"),
    "lateness": ("опоздание", "опоздания", "опозданий"),
    "final_mark": ("итоговая оценка", "итоговые оценки", "итоговых оценок"),
    "homework": ("домашнее задание", "домашних задания", "домашних заданий"),
    "application_approved": ("одобренное заявление", "одобренных заявления", "одобренных заявлений"),
    "application_rejected": ("отклонённое заявление", "отклонённых заявления", "отклонённых заявлений"),
    "low_balance": ("сообщение о балансе карты", "сообщения о балансе карты", "сообщений о балансе карты"),
}

_ABSENCE_REASONS = {
    "illness": "Пропуск по болезни",
    "excused": "Пропуск по уважительной причине",
    "unexcused": "Пропуск без уважительной причины",
}


@dataclass(frozen=True)
class Letter:
    """An e-mail: a one-line subject, a plain-text part and an HTML part with the same content."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class FeedItem:
    """An entry of the in-app feed: a short title and one or two lines."""

    title: str
    body: str


# --- Russian words -------------------------------------------------------------------------------


def plural(n: int, one: str, few: str, many: str) -> str:
    """The form of a noun that goes with `n`: 1 оценка, 2 оценки, 5 оценок, 11 оценок, 21 оценка."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def count_of(n: int, one: str, few: str, many: str) -> str:
    """`n` with its noun: «3 оценки»."""
    return f"{n} {plural(n, one, few, many)}"


def ru_date(day: date, *, weekday: bool = False) -> str:
    """«24 ноября», or «пн, 24 ноября» when the day of the week helps (lessons, due dates)."""
    text = f"{day.day} {MONTHS_GENITIVE[day.month - 1]}"
    return f"{WEEKDAYS_SHORT[day.weekday()]}, {text}" if weekday else text


def moscow_time(moment: datetime) -> str:
    """«14:05», the wall-clock time in Moscow."""
    return moment.astimezone(MOSCOW).strftime("%H:%M")


def moscow_moment(moment: datetime) -> str:
    """«пн, 24 ноября, 14:05»."""
    return f"{ru_date(moment.astimezone(MOSCOW).date(), weekday=True)}, {moscow_time(moment)}"


def _fact_date(notice: Notice, name: str) -> str | None:
    """An ISO date fact in Russian with its weekday; an unparsable one as given."""
    raw = notice.fact(name)
    if raw is None:
        return None
    try:
        return ru_date(date.fromisoformat(raw[:10]), weekday=True)
    except ValueError:
        return raw


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _summary(*parts: str | None) -> str:
    """The known parts in a row; with none known, a neutral pointer to the diary itself."""
    text = ", ".join(part for part in parts if part)
    return text[:1].upper() + text[1:] if text else "Подробности — в электронном дневнике"


# --- What each kind says -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Described:
    title: str  # «Новая оценка: 5»
    summary: str  # «Математика, контрольная работа, пн, 24 ноября»
    details: tuple[str, ...]  # further lines, most useful first
    topic: str | None  # what the subject line adds after the title: the school subject, the school
    when: str  # the label of the time line


def _whose(notice: Notice) -> str:
    """Whose diary, in the genitive: «ученика 5А» or «вашего ребёнка»; never a name."""
    class_name = notice.fact("class_name")
    return f"ученика {class_name}" if class_name else "вашего ребёнка"


def _lesson_number(notice: Notice) -> str | None:
    number = notice.fact("lesson_number")
    if number is None:
        return None
    return f"{number}-й урок" if number.isdigit() else f"урок {number}"


def _describe(notice: Notice) -> _Described:
    fact = notice.fact
    kind = notice.kind
    subject = fact("subject")
    recorded = "Время записи"
    if kind == "mark_new":
        value = fact("value")
        return _Described(
            f"Новая оценка: {value}" if value else "Новая оценка",
            _summary(subject, fact("work_type"), _fact_date(notice, "lesson_date")),
            (),
            subject,
            recorded,
        )
    if kind == "mark_corrected":
        value, previous, reason = fact("value"), fact("previous_value"), fact("reason")
        change = f"Было: {previous}, стало: {value}" if previous and value else None
        return _Described(
            f"Оценка исправлена: {value}" if value else "Оценка исправлена",
            _summary(subject, _fact_date(notice, "lesson_date")),
            tuple(line for line in (change, f"Причина: {reason}" if reason else None) if line),
            subject,
            recorded,
        )
    if kind in ("absence", "lateness"):
        place = _summary(subject, _lesson_number(notice), _fact_date(notice, "lesson_date"))
        if kind == "absence":
            reason = _ABSENCE_REASONS.get(fact("reason") or "")
            return _Described("Пропуск урока", place, (reason,) if reason else (), subject, recorded)
        minutes = fact("minutes_late")
        title = "Опоздание на урок"
        if minutes and minutes.isdigit():
            title = f"Опоздание на {count_of(int(minutes), 'минуту', 'минуты', 'минут')}"
        return _Described(title, place, (), subject, recorded)
    if kind == "final_mark":
        value = fact("value")
        return _Described(
            f"Итоговая оценка: {value}" if value else "Итоговая оценка",
            _summary(subject, fact("period_name")),
            (),
            subject,
            recorded,
        )
    if kind == "homework":
        due = _fact_date(notice, "due_on")
        text = fact("text")
        return _Described(
            "Домашнее задание",
            _summary(subject, f"на {due}" if due else None),
            (_cut(text, HOMEWORK_TEXT_LIMIT),) if text else (),
            subject,
            recorded,
        )
    school = fact("school_name")
    school_line = f"Образовательное учреждение: {school}" if school else None
    if kind == "application_approved":
        return _Described(
            "Заявление одобрено",
            "Заявление на подключение услуги «Электронный дневник» одобрено",
            tuple(
                line
                for line in (
                    school_line,
                    "Дневник ребёнка теперь доступен в вашем личном кабинете на портале.",
                )
                if line
            ),
            school,
            "Время решения",
        )
    if kind == "application_rejected":
        reason, comment = fact("reason_text"), fact("comment")
        return _Described(
            "Заявление отклонено",
            "Заявление на подключение услуги «Электронный дневник» отклонено",
            tuple(
                line
                for line in (
                    f"Причина: {reason}" if reason else None,
                    f"Комментарий школы: {comment}" if comment else None,
                    school_line,
                    "Вы можете исправить данные и подать заявление снова.",
                )
                if line
            ),
            school,
            "Время решения",
        )
    # low_balance
    balance, threshold = fact("balance_rub"), fact("threshold_rub")
    class_name = fact("class_name")
    summary = "Баланс единой карты школьника" + (f" (ученик {class_name})" if class_name else "")
    summary += f": {balance} ₽" if balance else " ниже установленного порога"
    if balance and threshold:
        summary += f" — меньше порога {threshold} ₽"
    return _Described(
        f"Низкий баланс карты: {balance} ₽" if balance else "Низкий баланс карты",
        summary,
        ("Чтобы питание оплачивалось без перебоев, пополните, пожалуйста, карту.",),
        None,
        "Время проверки баланса",
    )


def _intro(notice: Notice) -> str:
    if notice.kind.startswith("application_"):
        return "Школа рассмотрела ваше заявление."
    if notice.kind == "low_balance":
        return "Сообщаем о единой карте школьника."
    return f"Новая запись в электронном дневнике {_whose(notice)}."


def feed_item(notice: Notice) -> FeedItem:
    """The feed's entry: the title and the summary, with the most useful detail on a second line."""
    described = _describe(notice)
    lines = [described.summary]
    if described.details:
        lines.append(_cut(_one_line(described.details[0]), FEED_TEXT_LIMIT))
    return FeedItem(described.title, "\n".join(lines))


# --- Letters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Paragraph:
    lines: tuple[str, ...]
    strong_first: bool = False


@dataclass(frozen=True)
class _Heading:
    text: str


@dataclass(frozen=True)
class _Entries:
    entries: tuple[tuple[str, tuple[str, ...]], ...]  # (head, further lines)


@dataclass(frozen=True)
class _Link:
    label: str
    url: str


_Block = _Paragraph | _Heading | _Entries | _Link


def instant_letter(notice: Notice, *, diary_url: str, unsubscribe_url: str) -> Letter:
    """A letter about one notice, sent as soon as quiet hours allow."""
    _check_url(diary_url, "diary_url")
    _check_url(unsubscribe_url, "unsubscribe_url")
    described = _describe(notice)
    subject = described.title + (f" — {described.topic}" if described.topic else "")
    class_name = notice.fact("class_name")
    if class_name and notice.pupil_id is not None:
        subject += f" ({class_name})"
    blocks: list[_Block] = [
        _Paragraph(("Здравствуйте!",)),
        _Paragraph((_intro(notice),)),
        _Paragraph((described.title, described.summary, *described.details), strong_first=True),
        _Paragraph((f"{described.when}: {moscow_moment(notice.occurred_at)} (время московское).",)),
        _Link("Открыть электронный дневник", diary_url),
    ]
    return _letter(subject, blocks, unsubscribe_url)


def digest_letter(notices: Sequence[Notice], day: date, *, diary_url: str, unsubscribe_url: str) -> Letter:
    """One letter with a day's notices: a section per kind, in time order inside each.

    A notice repeated with the same event id is listed once. When the notices concern more than
    one child, each line says which («ученик 5А»), never by name.
    """
    if not notices:
        raise ValueError("a digest needs at least one notice")
    _check_url(diary_url, "diary_url")
    _check_url(unsubscribe_url, "unsubscribe_url")
    unique = list({notice.event_id: notice for notice in reversed(notices)}.values())
    labels = _pupil_labels(unique)
    by_kind: dict[NoticeKind, list[Notice]] = {}
    for notice in sorted(unique, key=lambda n: (n.occurred_at, n.event_id)):
        by_kind.setdefault(notice.kind, []).append(notice)
    kinds = [kind for kind in NOTICE_KINDS if kind in by_kind]
    counts = ", ".join(count_of(len(by_kind[kind]), *_COUNT_NOUNS[kind]) for kind in kinds)
    subject = f"Дневник за {ru_date(day)}: {counts}"
    blocks: list[_Block] = [
        _Paragraph(("Здравствуйте!",)),
        _Paragraph((f"Что нового в электронном дневнике — сводка за {ru_date(day, weekday=True)}.",)),
    ]
    for kind in kinds:
        blocks.append(_Heading(f"{KIND_TITLES[kind]} ({len(by_kind[kind])})"))
        entries = []
        for notice in by_kind[kind]:
            described = _describe(notice)
            when = _digest_time(notice.occurred_at, day)
            lines = [described.summary, *described.details]
            label = labels.get(notice.pupil_id) if notice.pupil_id is not None else None
            if label:
                lines.append(label)
            entries.append((f"{when} — {described.title}", tuple(lines)))
        blocks.append(_Entries(tuple(entries)))
    blocks.append(_Paragraph(("Время указано московское.",)))
    blocks.append(_Link("Открыть электронный дневник", diary_url))
    return _letter(subject, blocks, unsubscribe_url)


def _digest_time(moment: datetime, day: date) -> str:
    """«14:05» for the digest's own day, «вс, 23 ноября, 20:15» for an evening before it."""
    if moment.astimezone(MOSCOW).date() == day:
        return moscow_time(moment)
    return moscow_moment(moment)


def _pupil_labels(notices: Sequence[Notice]) -> dict[UUID, str]:
    """How each child is told apart in a digest about several; nothing when there is only one."""
    classes: dict[UUID, str | None] = {}
    for notice in sorted(notices, key=lambda n: (n.occurred_at, n.event_id)):
        if notice.pupil_id is not None:
            known = classes.get(notice.pupil_id)
            classes[notice.pupil_id] = known or notice.fact("class_name")
    if len(classes) < 2:
        return {}
    named = [name for name in classes.values() if name]
    labels: dict[UUID, str] = {}
    for number, (pupil_id, class_name) in enumerate(classes.items(), start=1):
        if class_name and named.count(class_name) == 1:
            labels[pupil_id] = f"Ученик {class_name}"
        else:  # the same class or no class: number the children in order of appearance
            labels[pupil_id] = f"Ребёнок {number}" + (f", {class_name}" if class_name else "")
    return labels


def _letter(subject: str, blocks: Sequence[_Block], unsubscribe_url: str) -> Letter:
    subject = _cut(_one_line(subject), SUBJECT_LIMIT)
    return Letter(subject, _text(blocks, unsubscribe_url), _html(subject, blocks, unsubscribe_url))


def _text(blocks: Sequence[_Block], unsubscribe_url: str) -> str:
    chunks: list[str] = []
    for block in blocks:
        if isinstance(block, _Paragraph):
            chunks.append("\n".join(block.lines))
        elif isinstance(block, _Heading):
            chunks.append(block.text)
        elif isinstance(block, _Entries):
            chunks.append(
                "\n".join(
                    "\n".join([f"• {head}", *(f"  {line}" for line in lines)])
                    for head, lines in block.entries
                )
            )
        else:
            chunks.append(f"{block.label}: {block.url}")
    chunks.append(f"—\n{_SIGNATURE}\n{_UNSUBSCRIBE}{unsubscribe_url}")
    # A heading sits right on top of its list; everything else is separated by a blank line.
    ends = ["\n" if isinstance(block, _Heading) else "\n\n" for block in blocks] + ["\n"]
    return "".join(chunk + end for chunk, end in zip(chunks, ends, strict=True))


_BODY = "margin:0;padding:0;background:#ffffff;"
_WRAP = (
    "max-width:600px;margin:0 auto;padding:24px 16px;font-family:Arial,Helvetica,sans-serif;"
    "font-size:15px;line-height:1.5;color:#1f2933;"
)
_P = "margin:0 0 14px;"
_H = "margin:22px 0 8px;font-size:17px;line-height:1.3;color:#1f2933;"
_UL = "margin:0 0 14px;padding:0 0 0 20px;"
_LI = "margin:0 0 10px;"
_A = "color:#0b5cad;"
_SMALL = "margin:24px 0 0;padding:12px 0 0;border-top:1px solid #d9dee3;font-size:12px;color:#616e7c;"


def _html(subject: str, blocks: Sequence[_Block], unsubscribe_url: str) -> str:
    e = html.escape
    parts = [
        '<!DOCTYPE html>\n<html lang="ru">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(subject)}</title>\n</head>\n"
        f'<body style="{_BODY}">\n<div style="{_WRAP}">'
    ]
    for block in blocks:
        if isinstance(block, _Paragraph):
            lines = [e(line) for line in block.lines]
            if block.strong_first:
                lines[0] = f"<strong>{lines[0]}</strong>"
            parts.append(f'<p style="{_P}">' + "<br>\n".join(lines) + "</p>")
        elif isinstance(block, _Heading):
            parts.append(f'<h2 style="{_H}">{e(block.text)}</h2>')
        elif isinstance(block, _Entries):
            items = [
                f'<li style="{_LI}"><strong>{e(head)}</strong>'
                + "".join(f"<br>\n{e(line)}" for line in lines)
                + "</li>"
                for head, lines in block.entries
            ]
            parts.append(f'<ul style="{_UL}">\n' + "\n".join(items) + "\n</ul>")
        else:
            parts.append(f'<p style="{_P}"><a href="{e(block.url)}" style="{_A}">{e(block.label)}</a></p>')
    link = f'<a href="{e(unsubscribe_url)}" style="{_A}">{e(unsubscribe_url)}</a>'
    parts.append(f'<p style="{_SMALL}">{e(_SIGNATURE)}<br>\n{e(_UNSUBSCRIBE)}{link}</p>')
    parts.append("</div>\n</body>\n</html>\n")
    return "\n".join(parts)


def _check_url(url: str, name: str) -> None:
    """Only absolute web links go into a letter: a link a parent clicks must not run anything."""
    if not re.fullmatch(r"https?://[^\s<>\"']+", url):
        raise ValueError(f"{name} must be an absolute http(s) URL")
