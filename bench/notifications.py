"""The notifications figure: notifications produced per second, and the lag from `MarkRecorded`
to the e-mail in the SMTP sink (p50, p99), each next to a plain aiokafka consumer that does the
same join in the same run, on the same servers, with the same input.

The service runs as it does in production: `notifications serve` (API, e-mail sender, the
reference names from identity.events.v1 and gradebook.events.v1) and `notifications worker` (the
faust-streaming join: route → by-education → by-pupil → deliveries), each in its own process on a
fresh database and topic namespace, handing letters to the dev SMTP sink (its own process too).

The input is published as the other services would publish it, without running them: CloudEvents
envelopes keyed by their stream ids — `AccountRegistered` for every guardian (their addresses),
the school's `SchoolRegistered`, `ClassOpened`, `SubjectRegistered` and `PupilEnrolled`, and
`ParentLinked` for one or two guardians per pupil; then `MarkRecorded`.

The baseline (`python -m bench.notifications`, its own process) is one aiokafka consumer of the
same two topics keeping the same two tables in dicts (education → pupil, pupil → guardians) and,
per notice, doing in PostgreSQL what the worker's `deliver` does — the reference names, each
guardian's preferences, the same `INSERT … ON CONFLICT DO NOTHING` into a `deliveries` table made
by the service's own migration — then handing the e-mail to the same sink with aiosmtplib (one
connection per letter, as the service's sender). No faust, no repartition topics, no changelogs.

Both run side by side (each on its own namespace and database) and are measured in alternating
rounds: the lag at a fixed offered rate (per letter, from the produce to the sink filing it), the
throughput (K marks at once for guardians who read the feed only, until every feed delivery row
is written), and a burst of marks for guardians with e-mail on (until every letter is filed).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from uuid import UUID

import aiosmtplib
import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from bench.common import free_port, fresh_database, open_loop, percentile, throughput
from bench.infra import BenchInfra
from diary_events.applications import APPLICATIONS_EVENTS_TOPIC, ParentLinked
from diary_events.base import DomainEvent
from diary_events.gradebook import (
    GRADEBOOK_EVENTS_TOPIC,
    ClassOpened,
    MarkRecorded,
    PupilEnrolled,
    SchoolRegistered,
    SubjectRegistered,
)
from diary_events.identity import IDENTITY_EVENTS_TOPIC, AccountRegistered
from diary_kernel.db import Pool, create_pool, migrate, package_migrations
from diary_kernel.envelope import Envelope
from diary_kernel.relay import idempotent_producer
from diary_kernel.topics import TopicSpec, ensure_topics
from notifications.domain.notices import NOTICE_KINDS

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = 6  # the source topics' partitions, as notifications.bootstrap.TOPICS makes them
TOKEN = re.compile(r"bench-[0-9a-f]{12}")
SENDER = "Электронный дневник <dnevnik@diary.local>"
SOURCES = {
    GRADEBOOK_EVENTS_TOPIC: "/diary/gradebook",
    APPLICATIONS_EVENTS_TOPIC: "/diary/applications",
    IDENTITY_EVENTS_TOPIC: "/diary/identity",
}
SCHOOL = "Школа № 777"
HOPS = ("by-class", "by-education", "by-pupil")  # the worker's repartition topics
SUBJECTS = ("Математика", "Русский язык", "Литература", "История", "Биология")


# --- the school: guardians, pupils, links ------------------------------------------------------


@dataclass(frozen=True)
class Pupil:
    pupil_id: UUID
    education_id: UUID
    class_id: UUID
    guardians: tuple[UUID, ...]
    email: bool  # whether the guardians keep e-mail on (the lag's pupils) or only the feed


@dataclass(frozen=True)
class School:
    school_id: UUID
    year_id: UUID
    teacher_id: UUID
    classes: dict[UUID, str]
    subjects: dict[UUID, str]
    pupils: list[Pupil]

    @classmethod
    def generate(cls, pupils: int, with_email: int, rng: random.Random) -> School:
        classes = {uuid.uuid4(): f"{5 + i // 4}{'АБВГ'[i % 4]}" for i in range(max(1, pupils // 25))}
        class_ids = list(classes)
        roster = [
            Pupil(
                pupil_id=uuid.uuid4(),
                education_id=uuid.uuid4(),
                class_id=class_ids[i % len(class_ids)],
                guardians=tuple(uuid.uuid4() for _ in range(1 + i % 2)),  # one or two, 1.5 on average
                email=i < with_email,
            )
            for i in range(pupils)
        ]
        rng.shuffle(roster)
        return cls(
            uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), classes, {uuid.uuid4(): s for s in SUBJECTS}, roster
        )

    @property
    def links(self) -> int:
        return sum(len(p.guardians) for p in self.pupils)

    @staticmethod
    def address(account: UUID) -> str:
        return f"bench.guardian.{account.hex[:16]}@example.org"

    def setup(self) -> list[tuple[str, DomainEvent, str]]:
        """(topic, event, stream) as identity, the gradebook and applications would publish them."""
        now = datetime.now(UTC)
        out: list[tuple[str, DomainEvent, str]] = []
        for pupil in self.pupils:
            for account in pupil.guardians:
                registered = AccountRegistered(
                    account_id=account, email=self.address(account), method="email", registered_at=now
                )
                out.append((IDENTITY_EVENTS_TOPIC, registered, f"account-{account}"))
        school = SchoolRegistered(
            school_id=self.school_id,
            district_id=uuid.uuid4(),
            district_name="Адмиралтейский",
            name="ГБОУ средняя общеобразовательная школа № 777",
            short_name=SCHOOL,
        )
        out.append((GRADEBOOK_EVENTS_TOPIC, school, f"school-{self.school_id}"))
        for class_id, name in self.classes.items():
            opened = ClassOpened(
                class_id=class_id,
                school_id=self.school_id,
                school_year_id=self.year_id,
                grade=int(name[:-1]),
                letter=name[-1],
                name=name,
            )
            out.append((GRADEBOOK_EVENTS_TOPIC, opened, f"class-{class_id}"))
        for subject_id, name in self.subjects.items():
            subject = SubjectRegistered(subject_id=subject_id, school_id=self.school_id, name=name)
            out.append((GRADEBOOK_EVENTS_TOPIC, subject, f"subject-{subject_id}"))
        for pupil in self.pupils:
            enrolled = PupilEnrolled(
                education_id=pupil.education_id,
                pupil_id=pupil.pupil_id,
                school_id=self.school_id,
                class_id=pupil.class_id,
                enrolled_on=date.today(),
            )
            out.append((GRADEBOOK_EVENTS_TOPIC, enrolled, f"education-{pupil.education_id}"))
        for pupil in self.pupils:
            for account in pupil.guardians:
                application = uuid.uuid4()
                linked = ParentLinked(
                    application_id=application,
                    parent_account_id=account,
                    pupil_id=pupil.pupil_id,
                    school_id=self.school_id,
                    relation="parent",
                    linked_at=now,
                )
                out.append((APPLICATIONS_EVENTS_TOPIC, linked, f"application-{application}"))
        return out

    def mark(self, pupil: Pupil, rng: random.Random, token: str | None = None) -> MarkRecorded:
        return MarkRecorded(
            mark_id=uuid.uuid4(),
            education_id=pupil.education_id,
            subject_id=rng.choice(list(self.subjects)),
            teacher_id=self.teacher_id,
            lesson_date=date.today(),
            value=rng.choice(("5", "4", "3", "2")),
            # The letter says the kind of work, not any id: the token finds the letter in the sink.
            work_type=f"контрольная работа {token}" if token else "ответ на уроке",
            weight=3 if token else 1,
            recorded_at=datetime.now(UTC),
            class_id=pupil.class_id,
            school_id=self.school_id,
        )


Message = tuple[str, bytes, bytes, list[tuple[str, bytes]]]


def message(prefix: str, topic: str, event: DomainEvent, stream: str) -> Message:
    """Topic, key, body and headers as the kernel's outbox relay sends them."""
    envelope = Envelope.wrap(event, source=SOURCES[topic], subject=stream, extensions={"sequence": "1"})
    return prefix + topic, stream.encode(), envelope.body(), envelope.kafka_headers()


async def send_all(producer: AIOKafkaProducer, messages: Sequence[Message]) -> None:
    sent = [
        await producer.send(topic, body, key=key, headers=headers) for topic, key, body, headers in messages
    ]
    await asyncio.gather(*sent)


async def store_preferences(dsn: str, school: School) -> None:
    """Quiet hours off for every guardian, so the figure does not depend on the hour in Moscow;
    e-mail on only for the lag's pupils' guardians (the throughput's read the feed). Written in
    the table `PUT /preferences` writes — going through the API would need identity's tokens."""
    kinds = sorted(NOTICE_KINDS)  # every kind, as the defaults
    rows = [(account, kinds, pupil.email) for pupil in school.pupils for account in pupil.guardians]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            """INSERT INTO preferences (account_id, kinds, email, feed, mode, quiet_from, quiet_to, digest_at)
               VALUES ($1, $2, $3, true, 'instant', NULL, NULL, '19:00')""",
            rows,
        )
    finally:
        await conn.close()


# --- the SMTP sink and its Maildir ---------------------------------------------------------------


class Letters:
    """The letters the sink filed, by the token in their text, with the moment each was filed:
    the Maildir name starts with the sink's clock (seconds.Mmicroseconds) when it stored it."""

    def __init__(self, directory: Path) -> None:
        self.new = directory / "new"
        self.seen: set[str] = set()
        self.filed: dict[str, list[float]] = {}
        self._parser = BytesParser(_class=EmailMessage, policy=email.policy.default)

    def scan(self) -> None:
        if not self.new.is_dir():
            return
        for name in os.listdir(self.new):
            if name in self.seen:
                continue
            self.seen.add(name)
            seconds, _, rest = name.partition(".M")
            stored = int(seconds) + int(rest.partition("P")[0]) / 1e6
            letter = self._parser.parsebytes((self.new / name).read_bytes())
            assert isinstance(letter, EmailMessage)
            body = letter.get_body(("plain",))
            found = TOKEN.search(body.get_content() if isinstance(body, EmailMessage) else "")
            if found:
                self.filed.setdefault(found.group(), []).append(stored)

    async def wait(self, expected: dict[str, int], timeout: float, alive: Callable[[], None]) -> None:
        deadline = time.monotonic() + timeout
        while True:
            await asyncio.to_thread(self.scan)
            missing = sum(max(0, n - len(self.filed.get(t, []))) for t, n in expected.items())
            if not missing:
                return
            alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{missing} of {sum(expected.values())} letters did not reach the sink")
            await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def running_sink(directory: Path) -> AsyncIterator[int]:
    """`python -m diary_devinfra.smtp_sink` in its own process (not a thread of this one, where
    the load generator and the baseline's process would not compete with it alike)."""
    port = free_port()
    command = [sys.executable, "-m", "diary_devinfra.smtp_sink", "--port", str(port), "--dir", str(directory)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if process.poll() is not None:
                raise RuntimeError(f"the SMTP sink exited with {process.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            break
        else:
            raise RuntimeError("the SMTP sink did not listen")
        yield port
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Processes:
    """One side's processes: whether they still run, and the CPU time they have used."""

    running: list[tuple[str, subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        with log.open("ab") as out:
            process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        self.running.append((name, process, log))

    def alive(self) -> None:
        for name, process, log in self.running:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail}")

    def tails(self) -> str:
        return "\n".join(
            f"--- {name}:\n{log.read_text(errors='replace')[-2000:]}" for name, _, log in self.running
        )

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU seconds of each process so far (Linux /proc; empty elsewhere)."""
        used: dict[str, float] = {}
        for name, process, _ in self.running:
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                return {}
            used[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return used

    def stop(self) -> None:
        for _, process, _ in reversed(self.running):
            _stop(process)


# --- the two sides ----------------------------------------------------------------------------


@dataclass
class Side:
    """The thing under measurement: a topic namespace it consumes, a database it writes."""

    name: str
    prefix: str
    dsn: str
    processes: Processes
    pool: Pool | None = None

    def alive(self) -> None:
        self.processes.alive()

    async def count(self, kind: str) -> int:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            found: int = await conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE channel = 'feed' AND kind = $1", kind
            )
        return found

    async def wait_count(self, kind: str, at_least: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (found := await self.count(kind)) < at_least:
            self.alive()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name}: {found} of {at_least} {kind} deliveries after {timeout}s\n"
                    + self.processes.tails()
                )
            await asyncio.sleep(0.05)

    async def email_rows(self) -> dict[str, list[float]]:
        """When each mark's e-mail delivery rows were written (PostgreSQL's clock), by token."""
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT notice->'facts'->>'work_type' AS work, created_at FROM deliveries
                   WHERE channel = 'email' AND kind = 'mark_new'"""
            )
        written: dict[str, list[float]] = {}
        for row in rows:
            found = TOKEN.search(row["work"] or "")
            if found:
                written.setdefault(found.group(), []).append(row["created_at"].timestamp())
        return written


def _env(infra: BenchInfra, prefix: str, dsn: str, smtp_port: int, http_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFICATIONS_")}  # the defaults
    env.update(
        {
            "NOTIFICATIONS_DATABASE_URL": dsn,
            "NOTIFICATIONS_HTTP_PORT": str(http_port),
            "NOTIFICATIONS_LOG_LEVEL": "WARNING",
            "NOTIFICATIONS_UNSUBSCRIBE_SECRET": uuid.uuid4().hex,
            "NOTIFICATIONS_SMTP_HOST": "127.0.0.1",
            "NOTIFICATIONS_SMTP_PORT": str(smtp_port),
            "DIARY_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
            "DIARY_KAFKA_TOPIC_PREFIX": prefix,
        }
    )
    return env


@contextlib.asynccontextmanager
async def running_notifications(
    infra: BenchInfra, smtp_port: int, school: School, logs: Path
) -> AsyncIterator[Side]:
    """`notifications serve` (migrations, topics, API, sender, reference names), then
    `notifications worker`, on a fresh database and topic namespace."""
    dsn = await fresh_database(infra, "notifications")
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    port = free_port()
    env = _env(infra, prefix, dsn, smtp_port, port)
    cli = [sys.executable, "-m", "notifications.entrypoints.cli"]
    processes = Processes()
    try:
        processes.start("notifications serve", [*cli, "serve"], env, ROOT, logs / "serve.log")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(600):
                processes.alive()
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("notifications serve did not become ready")
        await store_preferences(dsn, school)
        # The worker declares its repartition topics itself, but a group assignment made before
        # the new topics reach the consumer's metadata leaves them out ("Ignoring missing topic")
        # and the hop stays deaf until a later rebalance: made here first, as a deployment would.
        hops = [TopicSpec(f"{prefix}notifications.{hop}", PARTITIONS) for hop in HOPS]
        await ensure_topics(infra.kafka_bootstrap, hops)
        # faust keeps its data directory in the working directory: a throwaway one.
        processes.start("notifications worker", [*cli, "worker"], env, logs, logs / "worker.log")
        yield Side("notifications", prefix, dsn, processes)
    finally:
        processes.stop()


@contextlib.asynccontextmanager
async def running_plain(infra: BenchInfra, smtp_port: int, school: School, logs: Path) -> AsyncIterator[Side]:
    """The baseline in its own process, on a fresh database with the service's own tables."""
    dsn = await fresh_database(infra, "notifications_plain")
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    await ensure_topics(infra.kafka_bootstrap, [TopicSpec(prefix + t, PARTITIONS) for t in SOURCES])
    pool = await create_pool(dsn, max_size=2)
    try:
        await migrate(pool, package_migrations("notifications"))
        async with pool.acquire() as conn:
            # What the service's projection learns from identity's and the gradebook's events.
            await conn.executemany(
                "INSERT INTO reference_subjects (subject_id, name) VALUES ($1, $2)", school.subjects.items()
            )
            await conn.executemany(
                "INSERT INTO reference_classes (class_id, name) VALUES ($1, $2)", school.classes.items()
            )
            await conn.execute(
                "INSERT INTO reference_schools (school_id, name) VALUES ($1, $2)", school.school_id, SCHOOL
            )
            await conn.executemany(
                "INSERT INTO guardian_addresses (account_id, email) VALUES ($1, $2)",
                [(a, school.address(a)) for p in school.pupils for a in p.guardians],
            )
    finally:
        await pool.close()
    await store_preferences(dsn, school)
    env = {
        **os.environ,
        "BENCH_PLAIN_BOOTSTRAP": infra.kafka_bootstrap,
        "BENCH_PLAIN_PREFIX": prefix,
        "BENCH_PLAIN_DSN": dsn,
        "BENCH_PLAIN_SMTP_PORT": str(smtp_port),
    }
    processes = Processes()
    try:
        command = [sys.executable, "-m", "bench.notifications"]
        processes.start("the plain consumer", command, env, ROOT, logs / "plain.log")
        yield Side("plain consumer", prefix, dsn, processes)
    finally:
        processes.stop()


# --- the measurement --------------------------------------------------------------------------


@dataclass
class Measured:
    lags: list[float] = field(default_factory=list)
    to_rows: list[float] = field(default_factory=list)
    duplicates: int = 0
    notifications: int = 0
    seconds: float = 0.0
    publish_seconds: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    burst_letters: int = 0
    burst_seconds: float = 0.0
    ready_seconds: float = 0.0


def _token() -> str:
    return f"bench-{uuid.uuid4().hex[:12]}"


@dataclass
class Load:
    """Publishes one side's input and measures what comes out of it."""

    side: Side
    school: School
    letters: Letters
    producer: AIOKafkaProducer
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    result: Measured = field(default_factory=Measured)

    def mark(self, pupil: Pupil, token: str | None) -> Message:
        mark = self.school.mark(pupil, self.rng, token)
        return message(self.side.prefix, GRADEBOOK_EVENTS_TOPIC, mark, f"mark-{mark.mark_id}")

    @property
    def mailed(self) -> list[Pupil]:
        return [p for p in self.school.pupils if p.email]

    async def setup(self) -> None:
        """Accounts, roster and links; then a mark for every pupil, every letter in the sink — so
        the join is complete, connections are open, and the warm-up's mail is out of the way."""
        started = time.perf_counter()
        records = [message(self.side.prefix, *record) for record in self.school.setup()]
        await send_all(self.producer, records)
        await self.side.wait_count("application_approved", self.school.links, timeout=180)
        self.result.ready_seconds = time.perf_counter() - started
        expected: dict[str, int] = {}
        warm: list[Message] = []
        for pupil in self.school.pupils:
            token = _token()
            if pupil.email:
                expected[token] = len(pupil.guardians)
            warm.append(self.mark(pupil, token))
        await send_all(self.producer, warm)
        await self.side.wait_count("mark_new", self.school.links, timeout=180)
        await self.letters.wait(expected, timeout=180, alive=self.side.alive)

    async def lag(self, rate: float, seconds: float) -> None:
        """Marks for the e-mail pupils at a fixed offered rate, each letter found in the sink."""
        mailed = self.mailed
        sent: dict[str, tuple[float, int]] = {}

        async def one(i: int) -> None:
            pupil = mailed[i % len(mailed)]
            token = _token()
            topic, key, body, headers = self.mark(pupil, token)
            sent[token] = (time.time(), len(pupil.guardians))
            await self.producer.send_and_wait(topic, body, key=key, headers=headers)

        await open_loop(rate, seconds, one)
        await self.letters.wait({t: n for t, (_, n) in sent.items()}, timeout=120, alive=self.side.alive)
        written = await self.side.email_rows()
        for token, (at, guardians) in sent.items():
            self.result.lags += [(filed - at) * 1000 for filed in self.letters.filed[token]]
            self.result.to_rows += [(row - at) * 1000 for row in written.get(token, [])]
            self.result.duplicates += len(self.letters.filed[token]) - guardians

    async def throughput(self, marks: int) -> None:
        """Marks for the feed-only pupils as fast as they can be produced, until every linked
        guardian's feed delivery is written."""
        fed = [p for p in self.school.pupils if not p.email]
        chosen = [self.rng.choice(fed) for _ in range(marks)]
        batch = [self.mark(pupil, None) for pupil in chosen]
        notifications = sum(len(p.guardians) for p in chosen)
        before = await self.side.count("mark_new")
        cpu_before = self.side.processes.cpu_seconds()
        started = time.perf_counter()
        await send_all(self.producer, batch)
        self.result.publish_seconds += time.perf_counter() - started
        await self.side.wait_count("mark_new", before + notifications, timeout=600)
        self.result.seconds += time.perf_counter() - started
        self.result.notifications += notifications
        cpu_after = self.side.processes.cpu_seconds()
        for name in cpu_before.keys() & cpu_after.keys():
            used = cpu_after[name] - cpu_before[name]
            self.result.cpu_seconds[name] = self.result.cpu_seconds.get(name, 0.0) + used

    async def burst(self, marks: int) -> None:
        """Marks for the e-mail pupils all at once, until every letter is in the sink."""
        mailed = self.mailed
        expected: dict[str, int] = {}
        batch: list[Message] = []
        for i in range(marks):
            pupil = mailed[i % len(mailed)]
            token = _token()
            expected[token] = len(pupil.guardians)
            batch.append(self.mark(pupil, token))
        started = time.perf_counter()
        await send_all(self.producer, batch)
        await self.letters.wait(expected, timeout=600, alive=self.side.alive)
        self.result.burst_seconds += time.perf_counter() - started
        self.result.burst_letters += sum(expected.values())


@dataclass(frozen=True)
class Size:
    pupils: int
    with_email: int
    marks: int  # the throughput run, all rounds
    rate: float  # the lag run: marks per second, offered
    seconds: float  # the lag run, all rounds
    burst: int  # the e-mail burst: marks, all rounds
    rounds: int


def _ms(values: list[float], q: float) -> float:
    return round(percentile(values, q), 1) if values else float("nan")


async def figures_notifications(infra: BenchInfra, quick: bool) -> list[dict[str, Any]]:
    """Notifications/s and MarkRecorded → e-mail lag through the faust worker and the service's
    sender, vs one plain aiokafka consumer doing the same join and writes, in the same run; and
    how fast a burst of e-mail leaves each."""
    if quick:
        size = Size(pupils=200, with_email=20, marks=3000, rate=10.0, seconds=10.0, burst=200, rounds=2)
    else:
        size = Size(pupils=1000, with_email=40, marks=12000, rate=10.0, seconds=30.0, burst=600, rounds=3)
    school = School.generate(size.pupils, size.with_email, random.Random(7))
    with tempfile.TemporaryDirectory(prefix="diary-bench-notifications-") as scratch:
        work = Path(scratch)
        (work / "mail").mkdir()
        letters = Letters(work / "mail")
        producer = idempotent_producer(infra.kafka_bootstrap)
        await producer.start()
        try:
            async with (
                running_sink(work / "mail") as smtp_port,
                running_notifications(infra, smtp_port, school, work) as service,
                running_plain(infra, smtp_port, school, work) as bare,
            ):
                loads = [Load(side, school, letters, producer) for side in (service, bare)]
                for load in loads:
                    load.side.pool = await create_pool(load.side.dsn, max_size=2)
                try:
                    for load in loads:
                        await load.setup()
                    # Alternating rounds: whatever else the machine does falls on both sides alike.
                    for _ in range(size.rounds):
                        for load in loads:
                            await load.lag(size.rate, size.seconds / size.rounds)
                    for _ in range(size.rounds):
                        for load in loads:
                            await load.throughput(size.marks // size.rounds)
                    for _ in range(size.rounds):
                        for load in loads:
                            await load.burst(size.burst // size.rounds)
                finally:
                    for load in loads:
                        if load.side.pool is not None:
                            await load.side.pool.close()
        finally:
            await producer.stop()

    kernel, plain = loads[0].result, loads[1].result

    def cpu_ms(side: Measured) -> dict[str, float]:
        return {name: round(used * 1000 / side.notifications, 3) for name, used in side.cpu_seconds.items()}

    school_params = {
        "pupils": size.pupils,
        "guardians": school.links,
        "guardians_per_pupil": "1 or 2 (1.5 on average), each linked by ParentLinked",
        "classes": len(school.classes),
        "partitions": PARTITIONS,
        "preferences": "quiet hours off for every guardian (written to the preferences table)",
        "worker_topics": "the worker's repartition topics made before it starts (a faust start-up race)",
        "setup_to_links_s": round(kernel.ready_seconds, 1),
        "baseline_setup_to_links_s": round(plain.ready_seconds, 1),
        "service": (
            "notifications serve (API, e-mail sender, reference-names projection) + notifications "
            "worker (faust: route → notifications.by-education → notifications.by-pupil → deliveries)"
        ),
        "baseline": (
            "one process: one aiokafka consumer of both topics, the two tables in dicts, per notice "
            "the SQL of notifications' deliver (names, preferences, INSERT … ON CONFLICT DO NOTHING "
            "into the service's deliveries table), a sender task handing letters to the sink with "
            "aiosmtplib, one connection per letter"
        ),
        "rounds": f"{size.rounds} alternating rounds of each measurement, the service's and the baseline's",
        "cpus": os.cpu_count(),
    }
    throughput_params = {
        **school_params,
        "marks": size.marks,
        "notifications": kernel.notifications,
        "measures": (
            "from the first produce of K MarkRecorded (acks=all) until every linked guardian's feed "
            "delivery row is in PostgreSQL (deliveries, channel=feed, kind=mark_new); those guardians "
            "have e-mail off, so the e-mail sender's pace is not in it (see the e-mail burst)"
        ),
        "publish_s": round(kernel.publish_seconds, 2),
        "baseline_publish_s": round(plain.publish_seconds, 2),
        "cpu_ms_per_notification": cpu_ms(kernel),
        "cpu_ms_per_notification_note": "serve's projector reads every mark too (and skips it)",
        "baseline_cpu_ms_per_notification": cpu_ms(plain),
    }
    lag_params = {
        **school_params,
        "rate_marks_per_s": size.rate,
        "duration_s": size.seconds,
        "pupils_with_email": size.with_email,
        "letters": len(kernel.lags),
        "baseline_letters": len(plain.lags),
        "duplicate_letters": kernel.duplicates,
        "baseline_duplicate_letters": plain.duplicates,
        "measures": (
            "per letter: from just before the MarkRecorded produce (acks=all) to the moment the SMTP "
            "sink filed it (the time in its Maildir name); the letter is found by a token in the "
            "work type, which the letter quotes"
        ),
        "max_ms": round(max(kernel.lags), 1),
        "baseline_max_ms": round(max(plain.lags), 1),
        "to_email_row_p50_ms": _ms(kernel.to_rows, 50),
        "to_email_row_p99_ms": _ms(kernel.to_rows, 99),
        "baseline_to_email_row_p50_ms": _ms(plain.to_rows, 50),
        "baseline_to_email_row_p99_ms": _ms(plain.to_rows, 99),
        "to_email_row": "produce → the e-mail delivery row's created_at (PostgreSQL's clock): the join alone",
    }
    burst_params = {
        **school_params,
        "marks": size.burst,
        "letters": kernel.burst_letters,
        "measures": "from the first produce of the marks, all at once, until every letter is in the sink",
        "sender": (
            "serve's sender: polls every 0.25 s when idle, leases 20 due rows, per letter looks up the "
            "address, renders, one SMTP connection, then UPDATE + NotificationSent via the outbox"
        ),
    }
    baseline_name = "plain aiokafka consumer, same join and SQL, one process"
    return [
        throughput(
            "notifications produced (faust worker)",
            "notifications/s",
            kernel.notifications,
            kernel.seconds,
            baseline_name,
            plain.seconds * kernel.notifications / plain.notifications,
            **throughput_params,
        ),
        {
            "name": "MarkRecorded → e-mail in sink, at a fixed rate",
            "unit": "ms",
            "p50": percentile(kernel.lags, 50),
            "p99": percentile(kernel.lags, 99),
            "baseline_name": baseline_name,
            "baseline_p50": percentile(plain.lags, 50),
            "baseline_p99": percentile(plain.lags, 99),
            "params": lag_params,
        },
        throughput(
            "e-mails into the sink, a burst of marks",
            "letters/s",
            kernel.burst_letters,
            kernel.burst_seconds,
            baseline_name,
            plain.burst_seconds * kernel.burst_letters / plain.burst_letters,
            **burst_params,
        ),
    ]


# --- the baseline process: python -m bench.notifications ---------------------------------------


class PlainJoin:
    """The same join as the faust worker, in one consumer, with the tables in dicts."""

    def __init__(self, pool: Pool, smtp_port: int) -> None:
        self.pool = pool
        self.smtp_port = smtp_port
        self.pupil_of_education: dict[str, tuple[str, str, str]] = {}  # education → pupil, school, class
        self.guardians: dict[str, dict[str, str]] = {}  # pupil → {guardian: school}
        self.outgoing: asyncio.Queue[tuple[UUID, UUID, dict[str, Any]]] = asyncio.Queue()

    async def handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        envelope = Envelope.from_kafka(record.headers, record.value)
        event = envelope.decode()
        if isinstance(event, ParentLinked):
            pupil, account = str(event.pupil_id), str(event.parent_account_id)
            self.guardians.setdefault(pupil, {})[account] = str(event.school_id)
            ids = {"school_id": str(event.school_id)}
            await self.deliver(envelope, "application_approved", None, ids, {}, [account])
        elif isinstance(event, PupilEnrolled):
            self.pupil_of_education[str(event.education_id)] = (
                str(event.pupil_id),
                str(event.school_id),
                str(event.class_id),
            )
        elif isinstance(event, MarkRecorded):
            owner = self.pupil_of_education.get(str(event.education_id))
            if owner is None:
                return
            pupil, school, class_id = owner
            ids = {"subject_id": str(event.subject_id), "class_id": class_id, "school_id": school}
            facts = {
                "value": event.value,
                "work_type": event.work_type,
                "lesson_date": event.lesson_date.isoformat(),
            }
            readers = [a for a, at in self.guardians.get(pupil, {}).items() if at == school]
            if readers:
                await self.deliver(envelope, "mark_new", pupil, ids, facts, readers)

    async def deliver(
        self,
        envelope: Envelope,
        kind: str,
        pupil: str | None,
        ids: dict[str, str],
        facts: dict[str, str],
        readers: list[str],
    ) -> None:
        """What notifications.service_layer.deliver does, statement for statement."""
        emails: list[tuple[UUID, UUID]] = []
        async with self.pool.acquire() as conn, conn.transaction():
            names = dict(facts)
            for name, table, key in (
                ("subject", "reference_subjects", "subject_id"),
                ("class_name", "reference_classes", "class_id"),
                ("school_name", "reference_schools", "school_id"),
            ):
                if key in ids:
                    found = await conn.fetchval(f"SELECT name FROM {table} WHERE {key} = $1", UUID(ids[key]))
                    if found is not None:
                        names[name] = found
            occurred = envelope.time
            body = {
                "event_id": envelope.id,
                "kind": kind,
                "occurred_at": occurred.isoformat(),
                "pupil_id": pupil,
                "facts": names,
            }
            now = datetime.now(UTC)
            for reader in readers:
                account = UUID(reader)
                prefs = await conn.fetchrow(
                    """SELECT kinds, email, feed, mode, quiet_from, quiet_to, digest_at FROM preferences
                       WHERE account_id = $1""",
                    account,
                )
                channels = [c for c in ("feed", "email") if prefs is None or prefs[c]]
                for channel in channels:
                    feed = channel == "feed"
                    delivery = uuid.uuid4()
                    inserted = await conn.fetchval(
                        """INSERT INTO deliveries (delivery_id, event_id, account_id, channel, kind, notice,
                               occurred_at, send_after, digest_day, status, next_attempt_at, sent_at)
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $8, $11)
                           ON CONFLICT (event_id, account_id, channel) DO NOTHING
                           RETURNING true""",
                        delivery,
                        envelope.id,
                        account,
                        channel,
                        kind,
                        body,
                        occurred,
                        None if feed else now,
                        None,
                        "delivered" if feed else "pending",
                        now if feed else None,
                    )
                    if inserted and not feed:
                        emails.append((delivery, account))
        for delivery, account in emails:
            self.outgoing.put_nowait((delivery, account, body))

    async def send(self) -> None:
        """Hand each e-mail to the sink, one connection per letter as the service's `submit`."""
        while True:
            delivery, account, notice = await self.outgoing.get()
            async with self.pool.acquire() as conn:
                address = await conn.fetchval(
                    "SELECT email FROM guardian_addresses WHERE account_id = $1", account
                )
            facts = notice["facts"]
            subject = f"Новая оценка: {facts.get('value', '')} — {facts.get('subject', '')}"
            text = (
                f"Здравствуйте!\n\nВ электронном дневнике ученика {facts.get('class_name', '')} новая "
                f"запись.\n\n{subject}\n{facts.get('subject', '')}, {facts.get('work_type', '')}, "
                f"{facts.get('lesson_date', '')}\n"
            )
            letter = EmailMessage()
            letter["From"] = SENDER
            letter["To"] = address
            letter["Subject"] = subject
            letter["Message-ID"] = make_msgid(domain="diary.local")
            letter.set_content(text)
            letter.add_alternative(f"<html><body><pre>{text}</pre></body></html>", subtype="html")
            await aiosmtplib.send(letter, hostname="127.0.0.1", port=self.smtp_port, timeout=10)
            async with self.pool.acquire() as conn:
                await conn.execute(
                    """UPDATE deliveries SET status = 'sent', sent_at = now(), attempts = 1
                       WHERE delivery_id = $1""",
                    delivery,
                )


async def plain_consumer() -> None:
    prefix = os.environ["BENCH_PLAIN_PREFIX"]
    pool = await create_pool(os.environ["BENCH_PLAIN_DSN"], max_size=5)
    join = PlainJoin(pool, int(os.environ["BENCH_PLAIN_SMTP_PORT"]))
    consumer = AIOKafkaConsumer(
        prefix + GRADEBOOK_EVENTS_TOPIC,
        prefix + APPLICATIONS_EVENTS_TOPIC,
        bootstrap_servers=os.environ["BENCH_PLAIN_BOOTSTRAP"],
        group_id=prefix + "plain-join",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await consumer.start()
    sender = asyncio.create_task(join.send())
    try:
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            for records in batches.values():
                for record in records:
                    await join.handle(record)
            if batches:
                await consumer.commit()
    finally:
        sender.cancel()
        await consumer.stop()
        await pool.close()


if __name__ == "__main__":
    asyncio.run(plain_consumer())
