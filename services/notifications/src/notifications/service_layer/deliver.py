"""Turning a notice for some guardians into deliveries: each guardian's plan, written once.

A delivery row per (source event, guardian, channel) is inserted or left alone when it exists,
so whatever the stream redelivers, nobody hears of one event twice on one channel. The feed row
is the in-app notification itself; an e-mail row waits for the sender (now, after quiet hours,
or in the day's digest).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from pydantic import BaseModel

from applications.domain.applications import REJECTION_REASONS
from diary_kernel.db import Connection, Pool
from notifications.adapters import preferences as stored_preferences
from notifications.adapters import reference
from notifications.adapters.metrics import delivered_rows
from notifications.domain.notices import Notice, notice_to_dict
from notifications.domain.preferences import Preferences, plan

EMAIL_CHANNEL = "notifications_email_due"
"""NOTIFY channel: an e-mail that may go now was written (the sender listens)."""


class RawNotice(BaseModel):
    """A notice as it travels between the stream's hops: ids to look up, facts as they are."""

    event_id: str
    kind: str
    occurred_at: str
    pupil_id: str | None = None
    ids: dict[str, str] = {}
    facts: dict[str, str] = {}


async def notice_with_names(conn: Connection, raw: RawNotice) -> Notice:
    ids = {k: UUID(v) for k, v in raw.ids.items()}
    facts = {**raw.facts, **await reference.names(conn, ids)}
    if raw.kind == "application_rejected" and "reason" in facts:
        facts["reason_text"] = rejection_reason_text(facts["reason"])
    return Notice(
        event_id=raw.event_id,
        kind=raw.kind,  # type: ignore[arg-type]  # checked by the stream's classifier
        occurred_at=datetime.fromisoformat(raw.occurred_at),
        pupil_id=UUID(raw.pupil_id) if raw.pupil_id else None,
        facts=facts,
    )


def rejection_reason_text(reason: str) -> str:
    return REJECTION_REASONS.get(reason, reason)


async def deliver(
    pool: Pool,
    raw: RawNotice,
    guardians: Sequence[UUID],
    now: datetime | None = None,
    defaults: Preferences | None = None,
) -> int:
    """Plan and record the notice for each guardian; returns the deliveries newly written."""
    moment = now or datetime.now(UTC)
    written = 0
    wake_sender = False
    async with pool.acquire() as conn, conn.transaction():
        notice = await notice_with_names(conn, raw)
        body = notice_to_dict(notice)
        for guardian in guardians:
            preferences = await stored_preferences.of(conn, guardian, defaults)
            for planned in plan(notice, preferences, moment):
                feed = planned.channel == "feed"
                inserted = await conn.fetchval(
                    """INSERT INTO deliveries (delivery_id, event_id, account_id, channel, kind, notice,
                           occurred_at, send_after, digest_day, status, next_attempt_at, sent_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $8, $11)
                       ON CONFLICT (event_id, account_id, channel) DO NOTHING
                       RETURNING true""",
                    uuid.uuid4(),
                    notice.event_id,
                    guardian,
                    planned.channel,
                    notice.kind,
                    body,
                    notice.occurred_at,
                    None if feed else planned.send_after,
                    planned.digest_day,
                    "delivered" if feed else "pending",
                    moment if feed else None,
                )
                if inserted:
                    written += 1
                    delivered_rows.labels(planned.channel, notice.kind).inc()
                    if not feed and planned.send_after <= moment:
                        wake_sender = True
        if wake_sender:  # delivered with the commit: the sender sends at once
            await conn.execute("SELECT pg_notify($1, '')", EMAIL_CHANNEL)
    return written
