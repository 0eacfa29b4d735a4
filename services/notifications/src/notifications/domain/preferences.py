"""What a guardian asked for, and the plan that follows from it for one notice.

Every time here is Moscow local time (the region's parents live by it); every moment handed out
is aware UTC, as the delivery layer stores it. Quiet hours apply uniformly to every kind, low
balance included: one rule a parent can predict beats a clever exception, and nothing a notice
says needs an answer at night (the feed still shows it at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from notifications.domain.notices import NOTICE_KINDS, Notice, NoticeKind

Channel = Literal["email", "feed"]
Mode = Literal["instant", "digest"]

MOSCOW = ZoneInfo("Europe/Moscow")


class PreferencesError(ValueError):
    """Preferences that cannot be kept; `field` names the form field to point at."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Preferences:
    """A guardian's choices; the defaults are what a guardian without a saved row gets.

    `mode` concerns e-mail only: the feed always shows a notice at once. `quiet_from`/`quiet_to`
    are Moscow wall-clock times, the end excluded, and may wrap midnight (22:00–07:00).
    """

    kinds: frozenset[NoticeKind] = frozenset(NOTICE_KINDS)
    email: bool = True
    feed: bool = True
    mode: Mode = "instant"
    quiet_from: time | None = time(22, 0)
    quiet_to: time | None = time(7, 0)
    digest_at: time = time(19, 0)

    def validate(self) -> None:
        """Raise PreferencesError for the first field the form must correct."""
        unknown = sorted(str(kind) for kind in self.kinds if kind not in NOTICE_KINDS)
        if unknown:
            raise PreferencesError("kinds", f"Неизвестные виды уведомлений: {', '.join(unknown)}")
        if self.mode not in ("instant", "digest"):
            raise PreferencesError("mode", "Выберите: сразу или раз в день")
        for name in ("quiet_from", "quiet_to", "digest_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is not None:
                raise PreferencesError(name, "Время указывается по Москве, без часового пояса")
        if self.quiet_from is not None and self.quiet_to is None:
            raise PreferencesError("quiet_to", "Укажите, до какого времени не беспокоить")
        if self.quiet_to is not None and self.quiet_from is None:
            raise PreferencesError("quiet_from", "Укажите, с какого времени не беспокоить")
        if self.quiet_from is not None and self.quiet_from == self.quiet_to:
            raise PreferencesError("quiet_to", "Начало и конец тихих часов не могут совпадать")

    @property
    def quiet_hours(self) -> tuple[time, time] | None:
        """The quiet period, or None when it is off or unusable (one end missing, both equal).

        Treating a broken pair as "no quiet hours" keeps an unvalidated row from holding mail forever.
        """
        start, end = self.quiet_from, self.quiet_to
        if start is None or end is None or start == end:
            return None
        return _naive(start), _naive(end)


@dataclass(frozen=True)
class Planned:
    """One delivery of a notice: on which channel, not before when, and into which digest."""

    channel: Channel
    send_after: datetime
    digest_day: date | None


def plan(notice: Notice, prefs: Preferences, now: datetime) -> list[Planned]:
    """The deliveries a notice gets under `prefs`, decided at `now`.

    The feed is never held back. An instant e-mail waits for the end of quiet hours. A digest
    e-mail joins the first daily digest that goes out after the notice happened (and after now),
    so an event in the evening after `digest_at`, or one processed late, is not filed into a
    digest that has already been sent: `digest_day` names that digest, `send_after` is its time.
    """
    _require_aware(now, "now")
    if notice.kind not in prefs.kinds:
        return []
    now = now.astimezone(UTC)
    planned: list[Planned] = []
    if prefs.feed:
        planned.append(Planned("feed", now, None))
    if prefs.email:
        if prefs.mode == "digest":
            day = digest_day_for(max(notice.occurred_at, now), prefs)
            planned.append(Planned("email", digest_due(day, prefs), day))
        else:
            planned.append(Planned("email", quiet_hours_end(now, prefs), None))
    return planned


def in_quiet_hours(moment: datetime, prefs: Preferences) -> bool:
    """Whether `moment` falls in the guardian's quiet hours (start included, end excluded)."""
    _require_aware(moment, "moment")
    quiet = prefs.quiet_hours
    if quiet is None:
        return False
    start, end = quiet
    local = moment.astimezone(MOSCOW).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end  # wraps midnight


def quiet_hours_end(moment: datetime, prefs: Preferences) -> datetime:
    """The first moment at or after `moment` outside quiet hours, in UTC."""
    _require_aware(moment, "moment")
    quiet = prefs.quiet_hours
    if quiet is None or not in_quiet_hours(moment, prefs):
        return moment.astimezone(UTC)
    start, end = quiet
    local = moment.astimezone(MOSCOW)
    day = local.date()
    if start > end and local.time().replace(tzinfo=None) >= start:
        day += timedelta(days=1)  # the evening part of a period that ends tomorrow morning
    return _moscow(day, end)


def digest_due(day: date, prefs: Preferences) -> datetime:
    """When the digest of `day` goes out: `digest_at` that day in Moscow, or the end of quiet hours."""
    return quiet_hours_end(_moscow(day, prefs.digest_at), prefs)


def digest_day_for(moment: datetime, prefs: Preferences) -> date:
    """The day of the first digest due strictly after `moment` (the one that has not gone yet).

    Digest times grow by about a day from day to day (quiet hours are shorter than a day), so the
    answer is the Moscow date of `moment`, the day before (a digest pushed past midnight by quiet
    hours) or the day after (`moment` is past today's digest).
    """
    _require_aware(moment, "moment")
    local_day = moment.astimezone(MOSCOW).date()
    for day in _days(local_day - timedelta(days=1), 3):
        if digest_due(day, prefs) > moment:
            return day
    return local_day + timedelta(days=2)  # unreachable while quiet hours are shorter than a day


def _days(first: date, count: int) -> Iterable[date]:
    return (first + timedelta(days=offset) for offset in range(count))


def _moscow(day: date, at: time) -> datetime:
    return datetime.combine(day, _naive(at), tzinfo=MOSCOW).astimezone(UTC)


def _naive(value: time) -> time:
    return value.replace(tzinfo=None)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
