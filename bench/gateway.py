"""The gateway's figure: diary-week requests per second and p50/p99 latency through the gateway,
with token verification and authorisation, next to a bare ASGI endpoint that answers the same
bytes, measured in the same run with the same load.

Everything runs as in production, each service in its own process (uvicorn): the gateway in
front of a real identity service (the token's issuer and JWKS) and a real gradebook (the diary),
on the run's Kafka and PostgreSQL. A tiny school's roster goes the real way (registry topic →
gradebook → its events → the gateway's access read model), a week of one pupil's journal is
entered through the gradebook's journal commands as the teachers would, and a parent registers
through identity with the mailed link. So every measured request verifies an RS256 token,
asks the access read model in PostgreSQL, and calls the gradebook over HTTP (which reads its own
read model); the bare endpoint shows what uvicorn + FastAPI + httpx alone carry on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Query, Response

from bench.common import free_port, fresh_database, percentile, throughput
from bench.gradebook import Service, running_gradebook
from bench.identity import _register, _serving, closed_loop, running_identity
from bench.infra import BenchInfra
from diary_devinfra.smtp_sink import SmtpSink
from diary_events.applications import APPLICATIONS_EVENTS_TOPIC, ParentLinked
from diary_kernel.envelope import Envelope
from gradebook.testing import TinySchool, publish, school_year_around

CLIENTS = 4  # one load for both sides, as the other latency figures use: a few parents' pages at once
APPLICATIONS_SOURCE = "/diary/applications"
PASSED_HEADERS = ("content-type", "etag", "cache-control")  # what the bare endpoint answers with too


# --- a realistic week of one pupil's diary ---------------------------------------------------


def reference_week(today: date) -> tuple[date, date]:
    """A day to build the tiny school's year around, and the Monday of a whole past school week in it."""
    reference = today - timedelta(days=12)  # so a full past week lies inside the reference's school year
    _, ends = school_year_around(reference)
    last_day = min(today - timedelta(days=1), ends)
    friday = last_day - timedelta(days=(last_day.weekday() - 4) % 7)
    return reference, friday - timedelta(days=4)


TOPICS = {
    "maths": [
        "Обыкновенные дроби",
        "Сложение дробей",
        "Вычитание дробей",
        "Смешанные числа",
        "Решение задач",
    ],
    "russian": ["Имя существительное", "Склонение", "Падежные окончания", "Диктант", "Работа над ошибками"],
}
MARKS = [("5", "ответ на уроке"), ("4", "домашняя работа"), ("5", "самостоятельная работа"), ("3", "диктант")]


@dataclass(frozen=True)
class JournalWeek:
    lessons: int
    marks: int
    homework: int
    remarks: int


async def _command(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    response = await client.request(method, path, json=body, headers=headers)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{method} {path} refused: {response.status_code} {response.text[:300]}")


async def record_week(client: httpx.AsyncClient, school: TinySchool, monday: date) -> tuple[JournalWeek, int]:
    """Class 5А's timetable (maths first, Russian second, Monday to Friday) and, for each lesson of
    the week, its topic, homework and attendance, with marks and a remark for pupil 0 — through the
    gradebook's journal commands, as the school's staff and the two teachers; and how many commands."""
    starts, _ = school.year
    slots = [
        {
            "weekday": weekday,
            "lesson_number": number,
            "subject_id": str(subject),
            "teacher_id": str(teacher),
            "room": room,
            "starts_at": begins,
            "ends_at": ends,
        }
        for weekday in range(1, 6)
        for number, subject, teacher, room, begins, ends in (
            (1, school.maths, school.maths_teacher, "21", "09:00", "09:45"),
            (2, school.russian, school.russian_teacher, "14", "09:55", "10:40"),
        )
    ]
    timetable = {"valid_from": starts.isoformat(), "slots": slots}
    path = f"/classes/{school.class_a}/timetable"
    deadline = time.monotonic() + 120
    while True:  # the roster reaches the gradebook's read model from the registry topic
        response = await client.put(path, json=timetable, headers=school.staff())
        if response.status_code == 200:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"the timetable was refused: {response.status_code} {response.text[:300]}")
        await asyncio.sleep(0.2)

    pupil, classmate, other = (str(e) for e in school.educations[:3])
    marks = homework = remarks = commands = 0
    for index in range(5):
        day = monday + timedelta(days=index)
        for number, name, subject, teacher in (
            (1, "maths", school.maths, school.maths_teacher),
            (2, "russian", school.russian, school.russian_teacher),
        ):
            headers = school.teacher(teacher)
            lesson = f"/classes/{school.class_a}/lessons/{day.isoformat()}/{number}"
            await _command(
                client,
                "PUT",
                f"{lesson}/topic",
                {
                    "lesson_topic": TOPICS[name][index],
                    "description": f"§ {12 + index}, упражнения к параграфу",
                },
                headers,
            )
            due = day + timedelta(days=3 if index == 4 else 1)
            await _command(
                client,
                "POST",
                f"{lesson}/homework",
                {
                    "homework_id": str(uuid.uuid4()),
                    "due_on": due.isoformat(),
                    "kind": "written" if number == 1 else "reading",
                    "text": f"§ {12 + index}, № {240 + 5 * index}–{244 + 5 * index}; повторить правило",
                    "attachments": [
                        {"title": "Карточка", "url": f"https://school77.example/cards/{name}-{index}.pdf"}
                    ],
                },
                headers,
            )
            entries: list[dict[str, Any]] = [
                {"education_id": pupil, "status": "late", "minutes_late": 5}
                if (index, number) == (3, 1)
                else {"education_id": pupil, "status": "present"},
                {"education_id": classmate, "status": "absent", "absence_reason": "illness"}
                if index == 2
                else {"education_id": classmate, "status": "present"},
                {"education_id": other, "status": "present"},
            ]
            await _command(client, "PUT", f"{lesson}/attendance", {"entries": entries}, headers)
            commands += 3
            homework += 1
            if (index + number) % 3 != 0:  # marks in most lessons
                value, work_type = MARKS[(index + number) % len(MARKS)]
                await _command(
                    client,
                    "POST",
                    "/marks",
                    {
                        "mark_id": str(uuid.uuid4()),
                        "education_id": pupil,
                        "subject_id": str(subject),
                        "lesson_date": day.isoformat(),
                        "lesson_number": number,
                        "value": value,
                        "work_type": work_type,
                        "comment": "аккуратно оформлено" if value == "5" else None,
                    },
                    headers,
                )
                marks += 1
                commands += 1
            if (index, number) in ((1, 2), (4, 1)):
                await _command(
                    client,
                    "POST",
                    f"{lesson}/remarks",
                    {"education_id": pupil, "text": "Не выполнил домашнее задание"},
                    headers,
                )
                remarks += 1
                commands += 1
    return JournalWeek(lessons=10, marks=marks, homework=homework, remarks=remarks), commands + 1


def week_counts(body: dict[str, Any]) -> JournalWeek:
    lessons = [lesson for day in body["days"] for lesson in day["lessons"]]
    return JournalWeek(
        lessons=sum(1 for lesson in lessons if lesson["lesson_topic"] and lesson["attendance"]),
        marks=sum(len(lesson["marks"]) for lesson in lessons)
        + sum(len(d["other_marks"]) for d in body["days"]),
        homework=sum(len(lesson["homework"]) for lesson in lessons),
        remarks=sum(len(lesson["remarks"]) for lesson in lessons),
    )


async def wait_for_week(
    client: httpx.AsyncClient,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    expected: JournalWeek,
) -> httpx.Response:
    """The week's answer once it is 200 and shows every lesson, mark, homework and remark recorded."""
    deadline = time.monotonic() + 120
    while True:
        response = await client.get(path, params=params, headers=headers)
        if response.status_code == 200 and week_counts(response.json()) == expected:
            return response
        if time.monotonic() > deadline:
            seen = week_counts(response.json()) if response.status_code == 200 else response.text[:300]
            raise RuntimeError(f"{path}: {response.status_code}, {seen} instead of {expected}")
        await asyncio.sleep(0.1)


# --- the parent's link -----------------------------------------------------------------------


async def publish_link(bootstrap: str, topic_prefix: str, account_id: uuid.UUID, school: TinySchool) -> None:
    """`ParentLinked` for pupil 0 on applications.events.v1, as the applications service sends it.

    In production the applications service emits it once the school approves the parent's
    application (make run walks that path). The figure is about the gateway's read path, not
    about how a link comes to be, so publishing the very event here is the honest shortcut: the
    gateway's access read model consumes it from the topic exactly as it would the service's.
    """
    event = ParentLinked(
        application_id=uuid.uuid4(),
        parent_account_id=account_id,
        pupil_id=school.pupils[0],
        school_id=school.school_id,
        relation="parent",
        linked_at=datetime.now(UTC),
    )
    envelope = Envelope.wrap(event, source=APPLICATIONS_SOURCE)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic_prefix + APPLICATIONS_EVENTS_TOPIC,
            envelope.body(),
            key=str(event.application_id).encode(),
            headers=envelope.kafka_headers(),
        )
    finally:
        await producer.stop()


# --- the processes ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_gateway(infra: BenchInfra, identity_url: str, gradebook: Service) -> AsyncIterator[str]:
    """`gateway serve` in its own process on a fresh database, in the gradebook's topic namespace
    (its access read model follows the gradebook's events), trusting the identity service's keys,
    with the rate limits out of the way (one account makes all the load)."""
    dsn = await fresh_database(infra, "gateway")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    unlimited = str(10**9)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}  # the gateway's defaults
    env.update(
        {
            "GATEWAY_DATABASE_URL": dsn,
            "GATEWAY_HTTP_PORT": str(port),
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_PUBLIC_URL": url,
            "GATEWAY_IDENTITY_URL": identity_url,
            "GATEWAY_GRADEBOOK_URL": gradebook.url,
            "GATEWAY_APPLICATIONS_URL": f"http://127.0.0.1:{free_port()}",  # not needed here: nobody listens
            "GATEWAY_TOKEN_ISSUER": identity_url,
            "GATEWAY_JWKS_URL": f"{identity_url}/.well-known/jwks.json",
            "GATEWAY_ACCOUNT_REQUESTS_PER_MINUTE": unlimited,
            "GATEWAY_ACCOUNT_BURST": unlimited,
            "GATEWAY_ADDRESS_REQUESTS_PER_MINUTE": unlimited,
            "GATEWAY_ADDRESS_BURST": unlimited,
            "DIARY_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
            "DIARY_KAFKA_TOPIC_PREFIX": gradebook.topic_prefix,
        }
    )
    async with _serving([sys.executable, "-m", "gateway.entrypoints.cli", "serve"], env, url, "/readyz"):
        yield url


BARE_BODY = "DIARY_BENCH_BARE_BODY"
BARE_HEADERS = "DIARY_BENCH_BARE_HEADERS"


def bare_week_app() -> FastAPI:
    """The baseline: the gateway's diary-week route answering the bytes in $DIARY_BENCH_BARE_BODY
    with the headers in $DIARY_BENCH_BARE_HEADERS, and nothing else (uvicorn --factory)."""
    body = Path(os.environ[BARE_BODY]).read_bytes()
    headers: dict[str, str] = json.loads(os.environ[BARE_HEADERS])
    app = FastAPI()

    @app.get("/api/v1/diary/{education_id}/week")
    async def week(
        education_id: uuid.UUID, on: Annotated[date | None, Query(alias="date")] = None
    ) -> Response:
        return Response(body, headers=headers)

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


@contextlib.asynccontextmanager
async def running_bare_week(body: bytes, headers: dict[str, str]) -> AsyncIterator[str]:
    """`bare_week_app` under uvicorn in its own process, with the options `gateway serve` uses."""
    with tempfile.NamedTemporaryFile(prefix="diary-bench-week-", suffix=".json") as file:
        file.write(body)
        file.flush()
        port = free_port()
        command = [
            *(sys.executable, "-m", "uvicorn", "bench.gateway:bare_week_app", "--factory"),
            *("--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"),
        ]
        env = {**os.environ, BARE_BODY: file.name, BARE_HEADERS: json.dumps(headers)}
        url = f"http://127.0.0.1:{port}"
        async with _serving(command, env, url, "/healthz"):
            yield url


# --- the load --------------------------------------------------------------------------------


@dataclass
class Side:
    """One server under the closed-loop load: the same request, its answer checked byte for byte."""

    client: httpx.AsyncClient
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    expected: bytes
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    failures: int = 0

    async def request(self) -> None:
        response = await self.client.get(self.path, params=self.params, headers=self.headers)
        if response.status_code != 200 or response.content != self.expected:
            self.failures += 1
            if self.failures == 1:
                print(f"{self.path}: {response.status_code} {response.text[:300]}", file=sys.stderr)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def summary(self) -> dict[str, float]:
        return {
            "requests_per_s": round(self.per_second),
            "p50_ms": round(percentile(self.latencies, 50), 2),
            "p99_ms": round(percentile(self.latencies, 99), 2),
        }


async def measure(sides: list[Side], seconds: float, rounds: int) -> None:
    """Warm-up, then alternating rounds, so whatever else the machine does falls on every side alike."""
    for side in sides:
        await closed_loop(side.request, CLIENTS, 1.0)
        side.failures = 0
    for _ in range(rounds):
        for side in sides:
            latencies, took = await closed_loop(side.request, CLIENTS, seconds / rounds)
            side.latencies += latencies
            side.seconds += took


def _client(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=CLIENTS))


async def figures_gateway(infra: BenchInfra, quick: bool) -> list[dict[str, Any]]:
    """GET /api/v1/diary/{education_id}/week through the gateway (RS256 token, access read model,
    gradebook over HTTP) vs a bare ASGI endpoint answering the same bytes, same clients and time;
    the gradebook's own route under the same load is in the params, to show where the time goes."""
    seconds, rounds = (5.0, 2) if quick else (20.0, 4)
    reference, monday = reference_week(date.today())
    school = TinySchool(today=reference)
    education = school.educations[0]
    params = {"date": monday.isoformat()}
    with tempfile.TemporaryDirectory(prefix="diary-bench-mail-") as mail:
        sink = SmtpSink(Path(mail), free_port())
        sink.start()
        try:
            async with (
                running_identity(infra, sink) as identity,
                running_gradebook(infra, "gateway_diary") as gradebook,
                _client(identity.url) as accounts,
                _client(gradebook.url) as journal,
            ):
                await publish(infra.kafka_bootstrap, school.records(), topic_prefix=gradebook.topic_prefix)
                started = time.perf_counter()
                recorded, commands = await record_week(journal, school, monday)
                direct_path = f"/diary/{education}/week"
                direct = await wait_for_week(journal, direct_path, params, {}, recorded)
                journal_seconds = time.perf_counter() - started
                parent = await _register(accounts, sink, f"bench.parent.{uuid.uuid4().hex[:8]}@example.org")
                token: str = parent["access_token"]
                bearer = {"Authorization": f"Bearer {token}"}

                async with (
                    running_gateway(infra, identity.url, gradebook) as gateway_url,
                    _client(gateway_url) as front,
                ):
                    linked = time.perf_counter()
                    await publish_link(
                        infra.kafka_bootstrap, gradebook.topic_prefix, uuid.UUID(parent["account_id"]), school
                    )
                    path = f"/api/v1/diary/{education}/week"
                    answer = await wait_for_week(front, path, params, bearer, recorded)
                    link_seconds = time.perf_counter() - linked
                    body = answer.content
                    headers = {
                        name: answer.headers[name] for name in PASSED_HEADERS if name in answer.headers
                    }
                    async with running_bare_week(body, headers) as bare_url, _client(bare_url) as bare:
                        through = Side(front, path, params, bearer, body)
                        baseline = Side(bare, path, params, bearer, body)
                        behind = Side(journal, direct_path, params, {}, direct.content)
                        await measure([through, baseline, behind], seconds, rounds)
        finally:
            sink.stop()

    described = {
        "body_bytes": len(body),
        "content_type": headers.get("content-type"),
        "same_bytes_as_gradebook": body == direct.content,
        "week": f"{monday.isoformat()} – {(monday + timedelta(days=4)).isoformat()}",
        "week_contents": (
            f"{recorded.lessons} lessons with topic, homework and attendance, {recorded.marks} marks, "
            f"{recorded.remarks} remarks"
        ),
        "journal_commands": commands,
        "journal_to_diary_s": round(journal_seconds, 2),
        "link_event_to_gateway_200_s": round(link_seconds, 2),
        "concurrent_clients": CLIENTS,
        "client": "one httpx.AsyncClient per server, keep-alive, closed loop",
        "duration_s": seconds,
        "rounds": f"{rounds} alternating rounds of the gateway, the bare endpoint and the gradebook",
        "requests": len(through.latencies),
        "failed": through.failures,
        "baseline_failed": baseline.failures,
        "cpus": os.cpu_count(),
        "token": f"RS256, {len(token)} bytes, verified against identity's JWKS (cached) on every request",
        "path": (
            "uvicorn + FastAPI → rate limits → RS256 token verify → access read model (PostgreSQL, "
            "one query) → gradebook GET /diary/{id}/week over HTTP (its read model) → same bytes back"
        ),
        "gateway": through.summary(),
        "bare_asgi": baseline.summary(),
        "gradebook_direct": behind.summary(),
        "gradebook_direct_failed": behind.failures,
    }
    baseline_name = "bare ASGI endpoint (uvicorn + FastAPI), same bytes, same clients"
    return [
        throughput(
            "diary-week requests through the gateway",
            "requests/s",
            len(through.latencies),
            through.seconds,
            baseline_name,
            baseline.seconds * len(through.latencies) / len(baseline.latencies),
            **described,
        ),
        {
            "name": "gateway diary-week latency, GET /api/v1/diary/{id}/week",
            "unit": "ms",
            "p50": percentile(through.latencies, 50),
            "p99": percentile(through.latencies, 99),
            "baseline_name": baseline_name,
            "baseline_p50": percentile(baseline.latencies, 50),
            "baseline_p99": percentile(baseline.latencies, 99),
            "params": described,
        },
    ]
