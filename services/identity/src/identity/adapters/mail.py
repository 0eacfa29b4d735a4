"""Security e-mail (confirmation, reset, invitation) through real SMTP, with retries.

A message is written to `outgoing_mail` in the transaction of the command that needs it, so a
crash cannot lose it nor send it for a command that rolled back. A sender loop leases due
messages, hands them to the SMTP server and retries with exponential back-off; once sent (or
given up) the body, which holds a link, is wiped. Logs name the message id and purpose only.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Literal

from asyncpg import Record

from diary_kernel.db import Connection, Pool
from diary_kernel.smtp import SMTP_ERRORS, SmtpSettings, mask_email, submit

log = logging.getLogger(__name__)

MailPurpose = Literal["confirm", "already_registered", "reset", "invitation", "role_granted"]

PORTAL = "«Петербургское образование»"


@dataclass(frozen=True)
class Letter:
    subject: str
    body: str


def confirmation(link: str, hours: int) -> Letter:
    return Letter(
        f"Подтверждение регистрации на портале {PORTAL}",
        "Здравствуйте!\n\n"
        f"Для завершения регистрации на портале {PORTAL} перейдите по ссылке и задайте пароль:\n\n"
        f"{link}\n\n"
        f"Ссылка действует {hours} ч и только один раз. Если вы не регистрировались, "
        "просто не отвечайте на это письмо.\n",
    )


def already_registered(login_link: str, reset_link: str) -> Letter:
    return Letter(
        f"Попытка регистрации на портале {PORTAL}",
        "Здравствуйте!\n\n"
        "Кто-то (возможно, вы) пытался зарегистрироваться с этим адресом электронной почты, "
        "но учётная запись с ним уже есть.\n\n"
        f"Войти: {login_link}\nЗабыли пароль? Восстановить: {reset_link}\n\n"
        "Если это были не вы, ничего делать не нужно.\n",
    )


def password_reset(link: str, minutes: int) -> Letter:
    return Letter(
        f"Восстановление пароля на портале {PORTAL}",
        "Здравствуйте!\n\n"
        "Чтобы задать новый пароль, перейдите по ссылке:\n\n"
        f"{link}\n\n"
        f"Ссылка действует {minutes} мин и только один раз; после смены пароля все входы на других "
        "устройствах завершатся. Если вы не запрашивали восстановление, не отвечайте на это письмо.\n",
    )


def invitation(link: str, role_title: str, hours: int) -> Letter:
    return Letter(
        f"Приглашение в электронный дневник: {role_title}",
        "Здравствуйте!\n\n"
        f"Для вас создана учётная запись на портале {PORTAL} ({role_title}). "
        "Перейдите по ссылке и задайте пароль:\n\n"
        f"{link}\n\n"
        f"Ссылка действует {hours} ч и только один раз.\n",
    )


def role_granted(role_title: str, login_link: str) -> Letter:
    return Letter(
        f"Новая роль в электронном дневнике: {role_title}",
        f"Здравствуйте!\n\nВашей учётной записи добавлена роль: {role_title}.\nВойти: {login_link}\n",
    )


async def enqueue(
    conn: Connection,
    recipient: str,
    purpose: MailPurpose,
    letter: Letter,
    now: datetime,
    *,
    max_per_hour: int = 5,
) -> bool:
    """Queue a letter; more than `max_per_hour` of one purpose to one address are dropped."""
    recent = await conn.fetchval(
        """SELECT count(*) FROM outgoing_mail
           WHERE recipient = $1 AND purpose = $2 AND created_at > $3""",
        recipient,
        purpose,
        now - timedelta(hours=1),
    )
    if recent >= max_per_hour:
        log.warning("mail dropped: too many of this kind to one address", extra={"purpose": purpose})
        return False
    await conn.execute(
        """INSERT INTO outgoing_mail (mail_id, recipient, purpose, subject, body, created_at, next_attempt_at)
           VALUES ($1, $2, $3, $4, $5, $6, $6)""",
        uuid.uuid4(),
        recipient,
        purpose,
        letter.subject,
        letter.body,
        now,
    )
    return True


class MailSender:
    """The loop that empties `outgoing_mail` into the SMTP server."""

    LEASE = timedelta(minutes=2)

    def __init__(self, pool: Pool, settings: SmtpSettings) -> None:
        self._pool = pool
        self._settings = settings
        self.wake = asyncio.Event()

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            sent = await self.send_due()
            if sent:
                continue
            self.wake.clear()
            waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stopping.wait())]
            await asyncio.wait(waiters, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def send_due(self, limit: int = 20) -> int:
        """Send what is due now; returns how many messages were attempted."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                """UPDATE outgoing_mail SET next_attempt_at = now() + $2::interval
                   WHERE mail_id IN (
                       SELECT mail_id FROM outgoing_mail
                       WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
                       ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                   RETURNING mail_id, recipient, purpose, subject, body, attempts""",
                limit,
                self.LEASE,
            )
        for row in rows:
            await self._deliver(row)
        return len(rows)

    async def _deliver(self, row: Record) -> None:
        s = self._settings
        mail_id, recipient, purpose = row["mail_id"], row["recipient"], row["purpose"]
        message = EmailMessage()
        message["From"] = s.sender
        message["To"] = recipient
        message["Subject"] = row["subject"]
        message["Message-ID"] = make_msgid(idstring=str(mail_id))
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(row["body"] or "")
        attempts = row["attempts"] + 1
        try:
            await submit(s, message)
        except SMTP_ERRORS as exc:
            await self._failed(mail_id, purpose, recipient, attempts, exc)
            return
        async with self._pool.acquire() as conn:
            await conn.execute(
                """UPDATE outgoing_mail SET sent_at = now(), attempts = $2, body = NULL, last_error = NULL
                   WHERE mail_id = $1""",
                mail_id,
                attempts,
            )
        log.info(
            "mail sent",
            extra={
                "mail_id": str(mail_id),
                "purpose": purpose,
                "to": mask_email(recipient),
                "attempts": attempts,
            },
        )

    async def _failed(
        self, mail_id: uuid.UUID, purpose: str, recipient: str, attempts: int, exc: Exception
    ) -> None:
        s = self._settings
        error = f"{type(exc).__name__}: {exc}"[:500]
        give_up = attempts >= s.max_attempts
        delay = s.retry_delay(attempts)
        async with self._pool.acquire() as conn:
            await conn.execute(
                """UPDATE outgoing_mail SET attempts = $2, last_error = $3,
                       next_attempt_at = now() + $4::interval,
                       failed_at = CASE WHEN $5 THEN now() END,
                       body = CASE WHEN $5 THEN NULL ELSE body END
                   WHERE mail_id = $1""",
                mail_id,
                attempts,
                error,
                timedelta(seconds=delay),
                give_up,
            )
        log.warning(
            "mail given up" if give_up else "mail delivery failed; will retry",
            extra={"mail_id": str(mail_id), "purpose": purpose, "to": mask_email(recipient), "error": error},
        )
