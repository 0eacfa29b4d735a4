"""Single-use links sent by e-mail (confirm the address, reset the password).

The token is 32 random bytes shown once, in the e-mail; the database keeps only its SHA-256,
so a copy of the database opens no account. Issuing a new link voids the earlier ones of the
same purpose; using a link spends it in the same transaction as what it allows.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from diary_kernel.db import Connection

LinkPurpose = Literal["confirm", "reset"]


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def issue(
    conn: Connection, account_id: UUID, purpose: LinkPurpose, now: datetime, ttl: timedelta
) -> str:
    await conn.execute(
        """UPDATE one_time_links SET used_at = $3
           WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL""",
        account_id,
        purpose,
        now,
    )
    token = secrets.token_urlsafe(32)
    await conn.execute(
        """INSERT INTO one_time_links (token_hash, purpose, account_id, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5)""",
        token_hash(token),
        purpose,
        account_id,
        now,
        now + ttl,
    )
    return token


async def peek(conn: Connection, token: str, purpose: LinkPurpose, now: datetime) -> UUID | None:
    """The account a still-valid link is for, without spending it."""
    account_id: UUID | None = await conn.fetchval(
        """SELECT account_id FROM one_time_links
           WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3""",
        token_hash(token),
        purpose,
        now,
    )
    return account_id


async def spend(conn: Connection, token: str, purpose: LinkPurpose, now: datetime) -> UUID | None:
    """Spend a valid link; None when it is unknown, used, expired or for another purpose."""
    account_id: UUID | None = await conn.fetchval(
        """UPDATE one_time_links SET used_at = $3
           WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
           RETURNING account_id""",
        token_hash(token),
        purpose,
        now,
    )
    return account_id
