"""`identity demo`: a demo parent registered the way a real one is, through the API and the mail.

Registers `ivanova.parent@example.org` (who also has an account at the local ESIA stand-in, so
an ESIA login links to it), reads the confirmation letter from the development mail sink's
Maildir, sets the password by the link, and logs in. Re-running finds the account and only logs in.
"""

from __future__ import annotations

import email.policy
import mailbox
import re
import time
from email.message import EmailMessage
from pathlib import Path

import httpx

DEMO_PARENT = "ivanova.parent@example.org"
DEMO_PASSWORD = "Белые ночи над Невой 1703"


def _confirmation_token(maildir: Path, address: str, seen: int, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        box = mailbox.Maildir(maildir, factory=None, create=False)
        letters: list[EmailMessage] = []
        for key in sorted(box.iterkeys()):
            message = email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
            if isinstance(message, EmailMessage) and address in str(message.get("To", "")):
                letters.append(message)
        for letter in letters[seen:]:
            match = re.search(r"[?&]token=([A-Za-z0-9_\-]+)", letter.get_content())
            if match and "Подтверждение" in str(letter["Subject"]):
                return match.group(1)
        time.sleep(0.3)
    raise SystemExit(f"no confirmation letter for {address} in {maildir} within {timeout:.0f} s")


def _letters_to(maildir: Path, address: str) -> int:
    if not maildir.exists():
        return 0
    box = mailbox.Maildir(maildir, factory=None, create=False)
    return sum(1 for key in box.iterkeys() if address.encode() in box.get_bytes(key))


def load(url: str, maildir: Path) -> str:
    """Make sure the demo parent exists and can log in; returns the account id."""
    with httpx.Client(base_url=url, timeout=30) as client:
        login = client.post("/sessions", json={"email": DEMO_PARENT, "password": DEMO_PASSWORD})
        if login.status_code == 201:
            return str(login.json()["account_id"])
        seen = _letters_to(maildir, DEMO_PARENT)
        client.post("/registrations", json={"email": DEMO_PARENT}).raise_for_status()
        token = _confirmation_token(maildir, DEMO_PARENT, seen)
        confirmed = client.post(
            "/registrations/confirmation", json={"token": token, "password": DEMO_PASSWORD}
        )
        confirmed.raise_for_status()
        return str(confirmed.json()["account_id"])
