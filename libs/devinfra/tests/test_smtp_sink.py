"""The SMTP sink is a real SMTP server: stdlib smtplib delivers to it, Mailbox reads it back."""

from __future__ import annotations

import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from diary_devinfra import _process
from diary_devinfra.smtp_sink import Mailbox, SmtpSink


def _message(to: str, subject: str, body: str = "Здравствуйте!") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Электронный дневник <no-reply@diary.example.org>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


async def test_a_message_sent_with_smtplib_lands_in_the_mailbox(smtp_sink: SmtpSink) -> None:
    before = len(smtp_sink.mailbox.to("ivanova.parent@example.org"))
    message = _message("ivanova.parent@example.org", "Подтвердите адрес почты", "Код: 417302")
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        smtp.send_message(message, to_addrs=["ivanova.parent@example.org", "hidden.copy@example.org"])

    got = await smtp_sink.mailbox.wait_for(
        "Ivanova.Parent@example.org", subject_contains="Подтвердите", after=before, timeout=5
    )

    assert got["Subject"] == "Подтвердите адрес почты"
    assert "Код: 417302" in got.get_content()
    assert got["From"].addresses[0].display_name == "Электронный дневник"
    # The envelope decides who got it, so a Bcc recipient finds the message too.
    assert got["Message-ID"] in {m["Message-ID"] for m in smtp_sink.mailbox.to("hidden.copy@example.org")}
    files = list((smtp_sink.mailbox_dir / "new").iterdir())
    assert files, "messages are plain files a human can read"


async def test_wait_for_skips_earlier_messages_and_times_out(smtp_sink: SmtpSink) -> None:
    address = "order.check@example.org"
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        for number in (1, 2):
            smtp.send_message(_message(address, f"Письмо {number}"))

    assert [m["Subject"] for m in smtp_sink.mailbox.to(address)] == ["Письмо 1", "Письмо 2"]
    assert (await smtp_sink.mailbox.wait_for(address, after=1))["Subject"] == "Письмо 2"
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="Письмо 1"):
        await smtp_sink.mailbox.wait_for(address, after=2, timeout=0.3)
    assert time.monotonic() - started < 3


async def test_fail_first_answers_451_then_accepts(tmp_path: Path) -> None:
    (port,) = _process.free_ports(1)
    sink = SmtpSink(tmp_path / "mail", port, fail_first=1)
    sink.start()
    try:
        message = _message("petrov.parent@example.org", "Повторная попытка")
        with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                smtp.send_message(message)
            assert refused.value.smtp_code == 451
            assert Mailbox(tmp_path / "mail").messages() == []
            smtp.send_message(message)  # the sender's retry
        got = await Mailbox(tmp_path / "mail").wait_for("petrov.parent@example.org", timeout=5)
        assert got["Subject"] == "Повторная попытка"
        assert (sink.rejected, sink.delivered) == (1, 1)
    finally:
        sink.stop()


async def test_fail_next_on_a_running_sink(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_next(1)
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPDataError, match="fail_first"):
            smtp.send_message(_message("retry@example.org", "Первая попытка"))
        smtp.send_message(_message("retry@example.org", "Вторая попытка"))
    assert [m["Subject"] for m in smtp_sink.mailbox.to("retry@example.org")] == ["Вторая попытка"]


def test_mailbox_of_a_missing_dir_is_empty(tmp_path: Path) -> None:
    assert Mailbox(tmp_path / "nothing-yet").messages() == []


def test_command_line_runs_until_terminated(tmp_path: Path) -> None:
    (port,) = _process.free_ports(1)
    argv = [sys.executable, "-m", "diary_devinfra.smtp_sink", "--port", str(port), "--dir", str(tmp_path)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while not _process.tcp_open(port):
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the sink did not listen"
            time.sleep(0.05)
        with smtplib.SMTP(_process.LOCALHOST, port, timeout=10) as smtp:
            smtp.send_message(_message("cli@example.org", "Из командной строки"))
        assert [m["Subject"] for m in Mailbox(tmp_path).to("cli@example.org")] == ["Из командной строки"]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
