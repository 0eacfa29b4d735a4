"""Handing letters to a real SMTP server, the same way in every service that writes to people.

The services keep their own queue of letters in PostgreSQL (written in the transaction that
decided to write) and call `submit` from a sender loop; a failure is retried later with
`retry_delay`, growing exponentially up to a ceiling, until `max_attempts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

SMTP_ERRORS = (TimeoutError, aiosmtplib.SMTPException, OSError)
"""What a failed hand-over raises: retry these, let anything else surface as a bug."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    max_attempts: int = 8
    first_retry: float = 2.0
    max_retry: float = 600.0

    def retry_delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failure."""
        return float(min(self.first_retry * 2 ** (attempts - 1), self.max_retry))


async def submit(settings: SmtpSettings, message: EmailMessage) -> None:
    """Hand one letter to the server; raises one of `SMTP_ERRORS` when it is not accepted."""
    await aiosmtplib.send(
        message,
        hostname=settings.host,
        port=settings.port,
        username=settings.username,
        password=settings.password,
        start_tls=settings.starttls,
        timeout=settings.timeout,
    )


def mask_email(email: str) -> str:
    """`iv***@example.org`: enough for the owner to recognise, little for a log reader."""
    local, _, domain = email.partition("@")
    return f"{local[:2]}***@{domain}"
