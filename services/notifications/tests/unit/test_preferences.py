"""When a guardian hears about a notice: channels, quiet hours over midnight, the daily digest."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from notifications.domain.notices import NOTICE_KINDS, Notice, NoticeKind
from notifications.domain.preferences import (
    MOSCOW,
    Planned,
    Preferences,
    PreferencesError,
    digest_due,
    in_quiet_hours,
    plan,
    quiet_hours_end,
)

DEFAULTS = Preferences()  # quiet 22:00–07:00, digest at 19:00, everything on, instant


def msk(day: int, hour: int, minute: int = 0, month: int = 11, year: int = 2025) -> datetime:
    """A Moscow wall-clock moment (24 November 2025 is a Monday)."""
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW)


def mark(occurred_at: datetime, kind: NoticeKind = "mark_new") -> Notice:
    return Notice("ev-1", kind, occurred_at.astimezone(UTC), None, {"value": "5"})


def email_of(planned: list[Planned]) -> Planned:
    [email] = [p for p in planned if p.channel == "email"]
    return email


# --- quiet hours ---------------------------------------------------------------------------------


def test_an_instant_letter_at_half_past_eleven_at_night_waits_until_seven_next_morning() -> None:
    now = msk(24, 23, 30)
    email = email_of(plan(mark(now), DEFAULTS, now))
    assert email.send_after == msk(25, 7, 0)
    assert email.send_after.tzinfo is UTC
    assert email.digest_day is None


def test_a_minute_before_seven_the_letter_waits_until_seven_the_same_morning() -> None:
    assert quiet_hours_end(msk(25, 6, 59), DEFAULTS) == msk(25, 7, 0)


def test_at_noon_the_letter_goes_at_once() -> None:
    now = msk(24, 12, 0)
    assert email_of(plan(mark(now), DEFAULTS, now)).send_after == now
    assert not in_quiet_hours(now, DEFAULTS)


def test_quiet_hours_start_at_their_first_minute_and_are_over_at_their_last() -> None:
    assert in_quiet_hours(msk(24, 22, 0), DEFAULTS)
    assert quiet_hours_end(msk(24, 22, 0), DEFAULTS) == msk(25, 7, 0)
    assert not in_quiet_hours(msk(25, 7, 0), DEFAULTS)
    assert quiet_hours_end(msk(25, 7, 0), DEFAULTS) == msk(25, 7, 0)


def test_quiet_hours_are_moscow_time_whatever_zone_the_moment_comes_in() -> None:
    # 20:30 UTC is 23:30 in Moscow, summer or winter: Moscow has kept UTC+3 since 2014.
    for month in (1, 7):
        moment = datetime(2025, month, 10, 20, 30, tzinfo=UTC)
        assert in_quiet_hours(moment, DEFAULTS)
        assert quiet_hours_end(moment, DEFAULTS) == datetime(2025, month, 11, 4, 0, tzinfo=UTC)


def test_quiet_hours_within_one_day_hold_letters_only_inside_them() -> None:
    nap = Preferences(quiet_from=time(13, 0), quiet_to=time(15, 0))
    assert quiet_hours_end(msk(24, 14, 0), nap) == msk(24, 15, 0)
    assert quiet_hours_end(msk(24, 23, 30), nap) == msk(24, 23, 30)
    assert not in_quiet_hours(msk(24, 12, 59), nap)


def test_without_quiet_hours_a_letter_at_night_goes_at_once() -> None:
    night_owl = Preferences(quiet_from=None, quiet_to=None)
    now = msk(24, 23, 30)
    assert email_of(plan(mark(now), night_owl, now)).send_after == now
    assert not in_quiet_hours(now, night_owl)


def test_unusable_quiet_hours_never_hold_a_letter_forever() -> None:
    broken = Preferences(quiet_from=time(22, 0), quiet_to=time(22, 0))  # never validated
    now = msk(24, 22, 0)
    assert email_of(plan(mark(now), broken, now)).send_after == now


def test_low_balance_respects_quiet_hours_like_everything_else() -> None:
    now = msk(24, 23, 30)
    email = email_of(plan(mark(now, "low_balance"), DEFAULTS, now))
    assert email.send_after == msk(25, 7, 0)


# --- channels and kinds --------------------------------------------------------------------------


def test_the_feed_shows_a_notice_at_once_even_in_quiet_hours() -> None:
    now = msk(24, 23, 30)
    planned = plan(mark(now), DEFAULTS, now)
    assert Planned("feed", now, None) in planned
    assert {p.channel for p in planned} == {"feed", "email"}


def test_a_kind_switched_off_gives_nothing_at_all() -> None:
    prefs = Preferences(kinds=frozenset(NOTICE_KINDS) - {"homework"})
    now = msk(24, 12, 0)
    assert plan(mark(now, "homework"), prefs, now) == []
    assert plan(mark(now, "mark_new"), prefs, now) != []


def test_with_email_off_only_the_feed_is_planned() -> None:
    now = msk(24, 12, 0)
    assert plan(mark(now), Preferences(email=False), now) == [Planned("feed", now, None)]


def test_with_both_channels_off_nothing_is_planned() -> None:
    now = msk(24, 12, 0)
    assert plan(mark(now), Preferences(email=False, feed=False), now) == []


def test_planning_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan(mark(msk(24, 12, 0)), DEFAULTS, datetime(2025, 11, 24, 12, 0))


# --- the daily digest ----------------------------------------------------------------------------

DIGEST = Preferences(mode="digest")


def test_a_digest_letter_waits_for_the_evening_digest_of_that_day_while_the_feed_goes_now() -> None:
    now = msk(24, 10, 0)
    planned = plan(mark(now), DIGEST, now)
    assert Planned("feed", now, None) in planned
    assert email_of(planned) == Planned("email", msk(24, 19, 0), date(2025, 11, 24))


def test_an_event_at_half_past_nine_utc_belongs_to_the_next_moscow_day() -> None:
    occurred = datetime(2025, 11, 24, 21, 30, tzinfo=UTC)  # 00:30 on 25 November in Moscow
    email = email_of(plan(mark(occurred), DIGEST, occurred + timedelta(seconds=2)))
    assert email.digest_day == date(2025, 11, 25)
    assert email.send_after == datetime(2025, 11, 25, 16, 0, tzinfo=UTC)


def test_an_event_after_the_days_digest_has_gone_waits_for_the_next_one() -> None:
    occurred = msk(24, 20, 15)  # the 19:00 digest of the 24th has already been sent
    email = email_of(plan(mark(occurred), DIGEST, occurred))
    assert email.digest_day == date(2025, 11, 25)
    assert email.send_after == msk(25, 19, 0)


def test_an_event_processed_late_is_not_filed_into_a_digest_already_sent() -> None:
    occurred, now = msk(24, 18, 50), msk(24, 19, 20)
    email = email_of(plan(mark(occurred), DIGEST, now))
    assert email.digest_day == date(2025, 11, 25)
    assert email.send_after > now


def test_a_digest_time_inside_quiet_hours_moves_to_their_end() -> None:
    late = Preferences(mode="digest", digest_at=time(23, 0))
    assert digest_due(date(2025, 11, 24), late) == msk(25, 7, 0)
    early = Preferences(mode="digest", digest_at=time(6, 0))
    assert digest_due(date(2025, 11, 24), early) == msk(24, 7, 0)


def test_a_digest_pushed_past_midnight_still_collects_its_evening() -> None:
    late = Preferences(mode="digest", digest_at=time(23, 0))
    occurred = msk(24, 23, 30)  # after 23:00, but that digest waits for 07:00 and has not gone
    email = email_of(plan(mark(occurred), late, occurred))
    assert email == Planned("email", msk(25, 7, 0), date(2025, 11, 24))


def test_digest_due_is_utc() -> None:
    due = digest_due(date(2025, 11, 24), DEFAULTS)
    assert due == datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
    assert due.tzinfo is UTC


# --- validation ----------------------------------------------------------------------------------


def test_the_defaults_are_valid() -> None:
    DEFAULTS.validate()
    replace(DEFAULTS, quiet_from=None, quiet_to=None).validate()


@pytest.mark.parametrize(
    ("prefs", "field"),
    [
        (Preferences(quiet_from=time(22, 0), quiet_to=None), "quiet_to"),
        (Preferences(quiet_from=None, quiet_to=time(7, 0)), "quiet_from"),
        (Preferences(quiet_from=time(22, 0), quiet_to=time(22, 0)), "quiet_to"),
        (Preferences(kinds=frozenset({"mark_new", "gossip"})), "kinds"),  # type: ignore[arg-type]
        (Preferences(mode="weekly"), "mode"),  # type: ignore[arg-type]
        (Preferences(digest_at=time(19, 0, tzinfo=UTC)), "digest_at"),
    ],
)
def test_invalid_preferences_name_the_field_to_correct(prefs: Preferences, field: str) -> None:
    with pytest.raises(PreferencesError) as caught:
        prefs.validate()
    assert caught.value.field == field
    assert caught.value.message
    assert isinstance(caught.value, ValueError)


def test_an_unknown_kind_is_named_in_the_message() -> None:
    with pytest.raises(PreferencesError, match="gossip"):
        Preferences(kinds=frozenset({"gossip"})).validate()  # type: ignore[arg-type]
