"""When repeated failed logins lock an account or a client address out for a while.

Counted per e-mail address (whether or not an account has it, so the answer never tells which
addresses are registered) and per client address (one machine trying many accounts). A lock
is temporary: an attacker cannot keep a parent out for longer than `lock_for` per burst.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class FailureCount:
    failures: int
    window_started: datetime
    locked_until: datetime | None = None

    def locked_at(self, now: datetime) -> datetime | None:
        """Until when logins are refused, or None when they are allowed now."""
        return self.locked_until if self.locked_until and self.locked_until > now else None


@dataclass(frozen=True)
class LockoutPolicy:
    per_login: int = 5
    per_address: int = 30
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)

    def after_failure(self, count: FailureCount | None, limit: int, now: datetime) -> FailureCount:
        """The count after one more failure; reaching the limit locks and starts a new window."""
        if count is None or now - count.window_started > self.window:
            count = FailureCount(0, now)
        failures = count.failures + 1
        if failures >= limit:
            return FailureCount(failures, count.window_started, now + self.lock_for)
        return replace(count, failures=failures)
