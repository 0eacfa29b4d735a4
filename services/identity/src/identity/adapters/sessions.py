"""Sessions and their rotating refresh tokens.

A session is a chain: each refresh spends the presented token and issues the next one. A token
presented a second time means two parties hold the chain (a stolen token), so the whole session
is revoked and both must log in again. Logout revokes the session; a password reset revokes all
of the account's sessions.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from diary_kernel.db import Connection
from identity.adapters.one_time_links import token_hash


@dataclass(frozen=True)
class Session:
    session_id: UUID
    account_id: UUID
    method: str


class RefreshRefused(Exception):
    """The refresh token is unknown, spent, expired or its session revoked."""


async def _issue_token(conn: Connection, session_id: UUID, now: datetime, ttl: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)",
        token_hash(token),
        session_id,
        now,
        now + ttl,
    )
    return token


async def start(
    conn: Connection,
    account_id: UUID,
    method: str,
    now: datetime,
    *,
    refresh_ttl: timedelta,
    max_age: timedelta,
) -> tuple[Session, str]:
    session = Session(uuid.uuid4(), account_id, method)
    await conn.execute(
        """INSERT INTO sessions (session_id, account_id, method, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5)""",
        session.session_id,
        account_id,
        method,
        now,
        now + max_age,
    )
    return session, await _issue_token(conn, session.session_id, now, refresh_ttl)


async def refresh(
    conn: Connection, token: str, now: datetime, *, refresh_ttl: timedelta
) -> tuple[Session, str]:
    """Spend the token and return the session with the next token; raise RefreshRefused."""
    row = await conn.fetchrow(
        """SELECT t.session_id, t.expires_at, t.used_at, s.account_id, s.method, s.revoked_at,
                  s.expires_at AS session_expires_at
           FROM refresh_tokens t JOIN sessions s USING (session_id)
           WHERE t.token_hash = $1 FOR UPDATE OF t, s""",
        token_hash(token),
    )
    if row is None:
        raise RefreshRefused("unknown refresh token")
    if row["revoked_at"] is not None:
        raise RefreshRefused("the session was ended")
    if row["used_at"] is not None:
        await revoke(conn, row["session_id"], "refresh token reused", now)
        raise RefreshRefused("the refresh token was used already; the session is ended for safety")
    if row["expires_at"] <= now or row["session_expires_at"] <= now:
        raise RefreshRefused("the session has expired")
    await conn.execute("UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1", token_hash(token), now)
    session = Session(row["session_id"], row["account_id"], row["method"])
    return session, await _issue_token(conn, session.session_id, now, refresh_ttl)


async def session_of(conn: Connection, token: str) -> UUID | None:
    session_id: UUID | None = await conn.fetchval(
        "SELECT session_id FROM refresh_tokens WHERE token_hash = $1", token_hash(token)
    )
    return session_id


async def revoke(conn: Connection, session_id: UUID, reason: str, now: datetime) -> bool:
    status = await conn.execute(
        """UPDATE sessions SET revoked_at = $2, revoked_reason = $3
           WHERE session_id = $1 AND revoked_at IS NULL""",
        session_id,
        now,
        reason,
    )
    return status.endswith(" 1")


async def revoke_all(conn: Connection, account_id: UUID, reason: str, now: datetime) -> int:
    status = await conn.execute(
        """UPDATE sessions SET revoked_at = $2, revoked_reason = $3
           WHERE account_id = $1 AND revoked_at IS NULL""",
        account_id,
        now,
        reason,
    )
    return int(status.split()[-1])


async def is_active(conn: Connection, session_id: UUID, now: datetime) -> bool:
    active: bool | None = await conn.fetchval(
        "SELECT revoked_at IS NULL AND expires_at > $2 FROM sessions WHERE session_id = $1", session_id, now
    )
    return bool(active)
