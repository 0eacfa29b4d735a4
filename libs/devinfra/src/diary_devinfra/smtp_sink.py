"""A real SMTP server for development and tests that keeps every message in a Maildir.

Services send mail over real SMTP (no fake transport in the code under test); the sink accepts
everything on 127.0.0.1 and files each message under <dir>/new, where tests read it with
`Mailbox` and humans with any mail reader or `cat`. `fail_first` answers the first deliveries
with a 451 temporary failure so a sender's retry logic can be exercised.

    python -m diary_devinfra.smtp_sink --port 10025 --dir .local/infra/mail [--fail-first 2]
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import logging
import mailbox
import re
import signal
import sys
import threading
import time
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from diary_devinfra import _process
from diary_devinfra.errors import InfraError

log = logging.getLogger(__name__)

# The envelope is the truth about who a message went to (Bcc never shows in the headers), so
# the sink records it the way a delivering MTA does, on top of the message.
ENVELOPE_RECIPIENT = "Delivered-To"
ENVELOPE_SENDER = "Return-Path"

TEMPORARY_FAILURE = "451 4.3.0 Temporary failure requested by the test (fail_first)"


class _Handler:
    """aiosmtpd handler: 451 for the first fail_first messages, then file them in the Maildir."""

    def __init__(self, mailbox_dir: Path, fail_first: int) -> None:
        # Maildir(create=True) leaves an existing empty dir without its tmp/new/cur: make them.
        for sub in ("tmp", "new", "cur"):
            (mailbox_dir / sub).mkdir(parents=True, exist_ok=True)
        self._maildir = mailbox.Maildir(mailbox_dir, factory=None, create=False)
        self._fail_left = fail_first
        self._lock = threading.Lock()
        self.delivered = 0
        self.rejected = 0

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._fail_left += count

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            if self._fail_left > 0:
                self._fail_left -= 1
                self.rejected += 1
                log.info("rejecting message from %s with 451 (fail_first)", envelope.mail_from)
                return TEMPORARY_FAILURE
        content = envelope.content
        body = content.encode() if isinstance(content, str) else (content or b"")
        trace = [f"{ENVELOPE_SENDER}: <{envelope.mail_from or ''}>"]
        trace += [f"{ENVELOPE_RECIPIENT}: {rcpt}" for rcpt in envelope.rcpt_tos]
        key = self._maildir.add("".join(f"{line}\r\n" for line in trace).encode() + body)
        with self._lock:
            self.delivered += 1
        log.info("stored message %s from %s to %s", key, envelope.mail_from, envelope.rcpt_tos)
        return "250 2.0.0 OK: stored"


class SmtpSink:
    """An SMTP server on 127.0.0.1:port (in its own thread) that stores every message."""

    def __init__(self, mailbox_dir: Path, port: int, *, fail_first: int = 0) -> None:
        self.mailbox_dir = Path(mailbox_dir).resolve()
        self._port = port
        self._handler = _Handler(self.mailbox_dir, fail_first)
        self._controller: Controller | None = None

    @property
    def host(self) -> str:
        return _process.LOCALHOST

    @property
    def port(self) -> int:
        return self._port

    @property
    def mailbox(self) -> Mailbox:
        """A reader of what this sink stored."""
        return Mailbox(self.mailbox_dir)

    @property
    def delivered(self) -> int:
        """Messages stored since start."""
        return self._handler.delivered

    @property
    def rejected(self) -> int:
        """Messages answered with 451 because of fail_first."""
        return self._handler.rejected

    def fail_next(self, count: int = 1) -> None:
        """Answer the next count messages with 451 too (a shared session sink, a retry test)."""
        self._handler.fail_next(count)

    def start(self) -> None:
        """Listen and return once the server answers (aiosmtpd checks with a real connection)."""
        if self._controller is not None:
            return
        if not _process.port_is_free(self._port):
            holder = _process.describe_port_holder(self._port) or "another process"
            raise InfraError(f"port {self._port} for the SMTP sink is already in use by {holder}")
        controller = Controller(
            self._handler,
            hostname=_process.LOCALHOST,
            port=self._port,
            server_hostname="smtp-sink.diary.local",
            enable_SMTPUTF8=True,  # Cyrillic addresses and names must get through untouched
        )
        try:
            controller.start()
        except Exception as exc:
            raise InfraError(f"the SMTP sink could not listen on port {self._port}: {exc}") from exc
        self._controller = controller
        log.info("SMTP sink on %s:%s storing into %s", self.host, self._port, self.mailbox_dir)

    def stop(self) -> None:
        """Stop listening. Idempotent; the stored messages stay."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()


_MAILDIR_KEY = re.compile(r"^(\d+)\.M(\d+)P(\d+)Q(\d+)")


def _delivery_order(key: str) -> tuple[int, ...]:
    # mailbox.Maildir names files <seconds>.M<micros>P<pid>Q<counter>.<host>: time, then counter.
    match = _MAILDIR_KEY.match(key)
    return tuple(int(part) for part in match.groups()) if match else (sys.maxsize,)


class Mailbox:
    """Read the messages a sink stored, oldest first; safe while the sink keeps writing."""

    def __init__(self, mailbox_dir: Path) -> None:
        self.path = Path(mailbox_dir)
        self._parser = BytesParser(_class=EmailMessage, policy=email.policy.default)

    def messages(self) -> list[EmailMessage]:
        """Every stored message in delivery order."""
        if not (self.path / "new").is_dir():
            return []
        box = mailbox.Maildir(self.path, factory=None, create=False)
        found = []
        for key in sorted(box.keys(), key=_delivery_order):
            try:
                data = box.get_bytes(key)
            except KeyError:  # deleted by someone between listing and reading
                continue
            found.append(self._parser.parsebytes(data))
        return found

    def to(self, address: str) -> list[EmailMessage]:
        """Messages whose envelope named address as a recipient (To, Cc or Bcc alike)."""
        wanted = address.strip().lower()
        return [
            message
            for message in self.messages()
            if any(str(rcpt).strip().lower() == wanted for rcpt in message.get_all(ENVELOPE_RECIPIENT, []))
        ]

    async def wait_for(
        self,
        address: str,
        *,
        subject_contains: str | None = None,
        timeout: float = 10.0,
        after: int = 0,
    ) -> EmailMessage:
        """Poll until a message to address arrives and return it.

        after skips the first `after` messages to address, so a test can note
        `len(mailbox.to(addr))` before acting and then wait for the next one only.
        """
        deadline = time.monotonic() + timeout
        while True:
            for message in self.to(address)[after:]:
                if subject_contains is None or subject_contains in str(message.get("Subject", "")):
                    return message
            if time.monotonic() >= deadline:
                seen = [str(m.get("Subject", "")) for m in self.to(address)]
                wanted = f" with {subject_contains!r} in the subject" if subject_contains else ""
                raise TimeoutError(
                    f"no message to {address}{wanted} (after the first {after}) within "
                    f"{timeout:.1f}s in {self.path}; subjects to that address so far: {seen}"
                )
            await asyncio.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    """Run the sink in the foreground until SIGINT/SIGTERM (make run starts it as a child)."""
    parser = argparse.ArgumentParser(prog="python -m diary_devinfra.smtp_sink", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--dir", type=Path, required=True, help="Maildir to store messages in")
    parser.add_argument("--fail-first", type=int, default=0, help="answer the first N messages with 451")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    sink = SmtpSink(args.dir, args.port, fail_first=args.fail_first)
    try:
        sink.start()
    except InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"SMTP sink on {sink.host}:{sink.port}, messages in {sink.mailbox_dir}/new", flush=True)
    try:
        stopping.wait()
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
