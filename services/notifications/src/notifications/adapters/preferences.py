"""Stored preferences per guardian; a guardian who never chose gets the defaults."""

from __future__ import annotations

from uuid import UUID

from diary_kernel.db import Connection
from notifications.domain.preferences import Preferences


async def of(conn: Connection, account_id: UUID, defaults: Preferences | None = None) -> Preferences:
    """The guardian's saved choices, or `defaults` (the service's) when they never chose."""
    row = await conn.fetchrow(
        """SELECT kinds, email, feed, mode, quiet_from, quiet_to, digest_at FROM preferences
           WHERE account_id = $1""",
        account_id,
    )
    if row is None:
        return defaults or Preferences()
    return Preferences(
        kinds=frozenset(row["kinds"]),
        email=row["email"],
        feed=row["feed"],
        mode=row["mode"],
        quiet_from=row["quiet_from"],
        quiet_to=row["quiet_to"],
        digest_at=row["digest_at"],
    )


async def save(conn: Connection, account_id: UUID, preferences: Preferences) -> None:
    await conn.execute(
        """INSERT INTO preferences (account_id, kinds, email, feed, mode, quiet_from, quiet_to, digest_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (account_id) DO UPDATE SET kinds = $2, email = $3, feed = $4, mode = $5,
               quiet_from = $6, quiet_to = $7, digest_at = $8, changed_at = now()""",
        account_id,
        sorted(preferences.kinds),
        preferences.email,
        preferences.feed,
        preferences.mode,
        preferences.quiet_from,
        preferences.quiet_to,
        preferences.digest_at,
    )
