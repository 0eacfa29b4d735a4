"""Failed-login counters in PostgreSQL, shared by every instance of the service."""

from __future__ import annotations

import hashlib
from datetime import datetime

from diary_kernel.db import Connection
from identity.domain.lockout import FailureCount, LockoutPolicy


def login_key(email: str) -> str:
    # Hashed: the table must not become a list of every address anyone ever tried.
    return "login:" + hashlib.sha256(email.encode()).hexdigest()


def address_key(address: str) -> str:
    return "address:" + address


async def read(conn: Connection, key: str) -> FailureCount | None:
    row = await conn.fetchrow(
        "SELECT failures, window_started, locked_until FROM login_failures WHERE key = $1", key
    )
    return FailureCount(row["failures"], row["window_started"], row["locked_until"]) if row else None


async def count_failure(
    conn: Connection, policy: LockoutPolicy, key: str, limit: int, now: datetime
) -> FailureCount:
    """One more failure for `key`, under a row lock so concurrent attempts all count."""
    row = await conn.fetchrow(
        "SELECT failures, window_started, locked_until FROM login_failures WHERE key = $1 FOR UPDATE", key
    )
    before = FailureCount(row["failures"], row["window_started"], row["locked_until"]) if row else None
    after = policy.after_failure(before, limit, now)
    await conn.execute(
        """INSERT INTO login_failures (key, failures, window_started, locked_until) VALUES ($1, $2, $3, $4)
           ON CONFLICT (key) DO UPDATE SET failures = $2, window_started = $3, locked_until = $4""",
        key,
        after.failures,
        after.window_started,
        after.locked_until,
    )
    return after


async def clear(conn: Connection, key: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE key = $1", key)
