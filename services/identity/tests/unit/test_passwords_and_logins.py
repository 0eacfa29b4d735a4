"""Password strength, e-mail normal form and lock-out arithmetic."""

from datetime import UTC, datetime, timedelta

import pytest

from diary_kernel.smtp import mask_email
from identity.domain.accounts import IdentityError
from identity.domain.emails import normalise_email
from identity.domain.lockout import LockoutPolicy
from identity.domain.passwords import PasswordPolicy

EMAIL = "ivanova.parent@example.org"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Kor0va!", "at least 10"),
        ("qwertyuiop", "most common"),
        ("gfhjkm123Q", "too easy"),
        ("password1234", "too easy"),
        ("ivanova.parent-2026", "e-mail"),
        ("1234567890", "too easy"),
        (" leading space here", "space"),
    ],
)
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(IdentityError) as refused:
        PasswordPolicy().check(password, email=EMAIL)
    assert refused.value.field == "password"
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "password", ["сосновый бор у залива", "Tram-Nevsky-Fog-1703", "kvass in the courtyard"]
)
def test_strong_passwords_pass(password: str) -> None:
    PasswordPolicy().check(password, email=EMAIL)


def test_addresses_have_one_normal_form() -> None:
    assert normalise_email("  Ivanova.Parent@Example.ORG ") == EMAIL
    assert mask_email(EMAIL) == "iv***@example.org"
    for bad in ["no-at-sign", "two@@example.org", "a@b", "a@example..org", "spa ce@example.org"]:
        with pytest.raises(IdentityError):
            normalise_email(bad)


def test_the_fifth_failure_locks_for_the_configured_time() -> None:
    policy = LockoutPolicy(per_login=5, window=timedelta(minutes=15), lock_for=timedelta(minutes=15))
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    count = None
    for attempt in range(1, 6):
        count = policy.after_failure(count, policy.per_login, now + timedelta(seconds=attempt))
        assert (count.locked_at(now + timedelta(seconds=attempt)) is not None) is (attempt == 5)
    assert count is not None
    assert count.locked_at(now + timedelta(minutes=14)) is not None
    assert count.locked_at(now + timedelta(minutes=16)) is None


def test_failures_outside_the_window_start_a_new_count() -> None:
    policy = LockoutPolicy(per_login=3, window=timedelta(minutes=15))
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    count = policy.after_failure(None, 3, now)
    count = policy.after_failure(count, 3, now + timedelta(minutes=1))
    count = policy.after_failure(count, 3, now + timedelta(minutes=20))
    assert count.failures == 1
    assert count.locked_at(now + timedelta(minutes=20)) is None
