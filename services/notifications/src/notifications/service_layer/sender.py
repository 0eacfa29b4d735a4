"""The e-mail sender: instant letters and daily digests out of `deliveries`, through SMTP.

Due rows are leased (so two senders never send one letter), rendered with today's names and
handed to the SMTP server. A refusal or a dead server is retried with exponential back-off;
after the last try the letter is given up: `NotificationFailed` is published and the letter's
ids and the reason go to the dead-letter topic. Success publishes `NotificationSent`. Both
events leave through the outbox, in the transaction that records the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from uuid import UUID

import orjson
from aiokafka import AIOKafkaProducer

from diary_events.notifications import NotificationFailed, NotificationSent
from diary_kernel.db import Connection, Pool
from diary_kernel.eventstore import EventStore
from diary_kernel.smtp import SMTP_ERRORS, SmtpSettings, mask_email, submit
from notifications.adapters import reference
from notifications.adapters.metrics import email_failures, email_latency, email_queue
from notifications.adapters.unsubscribe import UnsubscribeLinks
from notifications.domain.letters import Letter, digest_letter, instant_letter
from notifications.domain.notices import Notice, notice_from_dict
from notifications.service_layer.deliver import EMAIL_CHANNEL

log = logging.getLogger(__name__)

EMAIL_DLQ_TOPIC = "notifications.email.dlq"
LEASE = timedelta(minutes=2)
QUEUE_COUNT_EVERY = 5.0
"""Seconds between counts of the due e-mails (a gauge; counting on every pass costs a scan)."""


@dataclass(frozen=True)
class Outgoing:
    """One letter: a single delivery, or every delivery of one guardian's digest day."""

    account_id: UUID
    delivery_ids: list[UUID]
    notices: list[Notice]
    digest_day: date | None
    attempts: int  # before this one

    @property
    def kind(self) -> str:
        return "digest" if self.digest_day else self.notices[0].kind


class EmailSender:
    def __init__(
        self,
        pool: Pool,
        store: EventStore,
        smtp: SmtpSettings,
        links: UnsubscribeLinks,
        *,
        diary_url: str,
        producer: AIOKafkaProducer | None,
        dlq_topic: str = EMAIL_DLQ_TOPIC,
    ) -> None:
        self._pool = pool
        self._store = store
        self._smtp = smtp
        self._links = links
        self._diary_url = diary_url
        self._producer = producer
        self._dlq_topic = dlq_topic
        self._counted_at = float("-inf")

    async def run(self, stopping: asyncio.Event) -> None:
        """Send what is due; wake when the worker writes an e-mail (NOTIFY), or every second."""
        wake = asyncio.Event()

        def due(*_: object) -> None:
            wake.set()

        listener = await self._pool.acquire()
        await listener.add_listener(EMAIL_CHANNEL, due)
        try:
            while not stopping.is_set():
                wake.clear()
                if await self.send_due():
                    continue
                waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stopping.wait())]
                await asyncio.wait(waiters, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(EMAIL_CHANNEL, due)
            await self._pool.release(listener)

    async def send_due(self, limit: int = 20) -> int:
        """Send what is due now; returns how many letters were attempted."""
        letters = await self._lease(limit)
        for letter in letters:
            await self._send(letter)
        return len(letters)

    async def _lease(self, limit: int) -> list[Outgoing]:
        async with self._pool.acquire() as conn, conn.transaction():
            if time.monotonic() - self._counted_at > QUEUE_COUNT_EVERY:
                self._counted_at = time.monotonic()
                email_queue.set(
                    await conn.fetchval(
                        """SELECT count(*) FROM deliveries WHERE channel = 'email' AND status = 'pending'
                           AND next_attempt_at <= now()"""
                    )
                )
            rows = await conn.fetch(
                """WITH due AS (
                       SELECT account_id, digest_day, min(next_attempt_at) AS first FROM deliveries
                       WHERE channel = 'email' AND status = 'pending' AND next_attempt_at <= now()
                         AND (leased_until IS NULL OR leased_until < now())
                       GROUP BY account_id, digest_day, CASE WHEN digest_day IS NULL THEN delivery_id END
                       ORDER BY first LIMIT $1)
                   UPDATE deliveries d SET leased_until = now() + $2::interval
                   FROM due
                   WHERE d.channel = 'email' AND d.status = 'pending' AND d.account_id = due.account_id
                     AND d.digest_day IS NOT DISTINCT FROM due.digest_day AND d.next_attempt_at <= now()
                     AND (d.leased_until IS NULL OR d.leased_until < now())
                   RETURNING d.delivery_id, d.account_id, d.digest_day, d.notice,
                             d.attempts, d.occurred_at""",
                limit,
                LEASE,
            )
        grouped: dict[tuple[UUID, date | None, UUID | None], list[Any]] = {}
        for row in rows:
            day = row["digest_day"]
            key = (row["account_id"], day, None if day else row["delivery_id"])
            grouped.setdefault(key, []).append(row)
        return [
            Outgoing(
                account_id=account,
                delivery_ids=[r["delivery_id"] for r in members],
                notices=sorted((notice_from_dict(r["notice"]) for r in members), key=lambda n: n.occurred_at),
                digest_day=day,
                attempts=max(r["attempts"] for r in members),
            )
            for (account, day, _), members in grouped.items()
        ]

    def _letter(self, outgoing: Outgoing) -> Letter:
        unsubscribe = self._links.link(outgoing.account_id)
        if outgoing.digest_day is not None:
            return digest_letter(
                outgoing.notices, outgoing.digest_day, diary_url=self._diary_url, unsubscribe_url=unsubscribe
            )
        return instant_letter(outgoing.notices[0], diary_url=self._diary_url, unsubscribe_url=unsubscribe)

    async def _send(self, outgoing: Outgoing) -> None:
        attempts = outgoing.attempts + 1
        async with self._pool.acquire() as conn:
            address = await reference.address_of(conn, outgoing.account_id)
        try:
            if address is None:
                raise LookupError("no e-mail address known for the guardian yet")
            letter = self._letter(outgoing)
            message = EmailMessage()
            message["From"] = self._smtp.sender
            message["To"] = address
            message["Subject"] = letter.subject
            message["Message-ID"] = make_msgid(domain=self._smtp.sender.partition("@")[2] or None)
            message["List-Unsubscribe"] = f"<{self._links.link(outgoing.account_id)}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
            message.set_content(letter.text)
            message.add_alternative(letter.html, subtype="html")
            await submit(self._smtp, message)
        except (*SMTP_ERRORS, LookupError) as exc:
            await self._failed(outgoing, attempts, exc, address)
            return
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE deliveries SET status = 'sent', sent_at = $2, attempts = $3, leased_until = NULL,
                       last_error = NULL WHERE delivery_id = ANY($1)""",
                outgoing.delivery_ids,
                now,
                attempts,
            )
            await self._record(
                conn,
                outgoing,
                NotificationSent(
                    delivery_id=outgoing.delivery_ids[0],
                    guardian_account_id=outgoing.account_id,
                    channel="email",
                    kind=outgoing.kind,
                    source_event_ids=[n.event_id for n in outgoing.notices],
                    sent_at=now,
                    attempts=attempts,
                ),
            )
        if outgoing.digest_day is None:
            email_latency.observe(max(0.0, (now - outgoing.notices[0].occurred_at).total_seconds()))
        log.info(
            "notification e-mailed",
            extra={
                "kind": outgoing.kind,
                "to": mask_email(address),
                "deliveries": len(outgoing.delivery_ids),
            },
        )

    async def _record(
        self, conn: Connection, outgoing: Outgoing, event: NotificationSent | NotificationFailed
    ) -> None:
        await self._store.append(
            conn,
            stream_id=f"delivery-{outgoing.delivery_ids[0]}",
            stream_type="delivery",
            expected_version=0,
            events=[event],
            subject=str(outgoing.account_id),
        )

    async def _failed(self, outgoing: Outgoing, attempts: int, exc: Exception, address: str | None) -> None:
        reason = f"{type(exc).__name__}: {exc}"[:500]
        give_up = attempts >= self._smtp.max_attempts
        email_failures.labels(type(exc).__name__, str(give_up).lower()).inc()
        delay = timedelta(seconds=self._smtp.retry_delay(attempts))
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE deliveries SET attempts = $2, last_error = $3, leased_until = NULL,
                       next_attempt_at = now() + $4::interval,
                       status = CASE WHEN $5 THEN 'failed' ELSE status END
                   WHERE delivery_id = ANY($1)""",
                outgoing.delivery_ids,
                attempts,
                reason,
                delay,
                give_up,
            )
            if give_up:
                await self._record(
                    conn,
                    outgoing,
                    NotificationFailed(
                        delivery_id=outgoing.delivery_ids[0],
                        guardian_account_id=outgoing.account_id,
                        channel="email",
                        kind=outgoing.kind,
                        source_event_ids=[n.event_id for n in outgoing.notices],
                        reason=reason,
                        failed_at=now,
                        attempts=attempts,
                    ),
                )
        if give_up:
            await self._dead_letter(outgoing, reason, attempts)
        log.warning(
            "notification e-mail given up" if give_up else "notification e-mail failed; will retry",
            extra={
                "kind": outgoing.kind,
                "to": mask_email(address) if address else None,
                "attempts": attempts,
                "error": reason,
            },
        )

    async def _dead_letter(self, outgoing: Outgoing, reason: str, attempts: int) -> None:
        """The given-up letter's ids (never its text or address) with the reason, for an operator."""
        if self._producer is None:
            return
        body = orjson.dumps(
            {
                "delivery_ids": [str(d) for d in outgoing.delivery_ids],
                "guardian_account_id": str(outgoing.account_id),
                "kind": outgoing.kind,
                "source_event_ids": [n.event_id for n in outgoing.notices],
                "attempts": attempts,
                "reason": reason,
            }
        )
        await self._producer.send_and_wait(
            self._dlq_topic,
            body,
            key=str(outgoing.account_id).encode(),
            headers=[("dlq_reason", reason.encode()), ("dlq_id", str(uuid.uuid4()).encode())],
        )
