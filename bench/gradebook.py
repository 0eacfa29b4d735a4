"""The gradebook's figures (issue 3): marks through the HTTP command path and their lag into the
diary, and diary-week queries on a city-sized read model — each next to a raw baseline measured
in the same run on the same servers.

The service runs as it does in production: its own process (uvicorn), its own database, real
Kafka; the load comes from the demo generator, acting as the schools' teachers with the actor
headers the gateway sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import httpx

from bench.common import free_port, fresh_database, open_loop, percentile, raw_kafka_latency, throughput
from bench.infra import BenchInfra
from diary_events.gradebook import (
    AttendanceMarked,
    GradebookEvent,
    HomeworkAssigned,
    LessonTopicSet,
    MarkRecorded,
    RemarkMade,
    TimetableSlotSet,
)
from diary_kernel.db import create_pool
from diary_kernel.envelope import Envelope
from diary_kernel.projector import Projection
from gradebook.adapters.diary_read_model import DiaryMarksProjection
from gradebook.adapters.journal_read_model import JournalProjection
from gradebook.demo.generator import CityGenerator, CitySize, LessonActivity, School
from gradebook.demo.journal import JournalDriver, teacher_headers
from gradebook.demo.publish import city_records, publish
from gradebook.domain.lessons import lesson_id_for
from gradebook.domain.marks import WorkType

WORKERS = 32  # clients of a throughput run
LATENCY_CLIENTS = 4  # clients of a latency run: below saturation, so latency is not queueing


@dataclass(frozen=True)
class Service:
    url: str
    dsn: str
    topic_prefix: str


@contextlib.asynccontextmanager
async def running_gradebook(infra: BenchInfra, name: str) -> AsyncIterator[Service]:
    """`gradebook serve` in its own process on a fresh database and topic namespace."""
    dsn = await fresh_database(infra, name)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    port = free_port()
    env = {
        **os.environ,
        "GRADEBOOK_DATABASE_URL": dsn,
        "GRADEBOOK_HTTP_PORT": str(port),
        "GRADEBOOK_LOG_LEVEL": "WARNING",
        "GRADEBOOK_DB_POOL_SIZE": "20",
        "DIARY_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "DIARY_KAFKA_TOPIC_PREFIX": prefix,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gradebook.entrypoints.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            for _ in range(600):
                if process.poll() is not None:
                    raise RuntimeError(f"gradebook exited with {process.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("gradebook did not become ready")
        yield Service(url, dsn, prefix)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


# --- (a) marks through the HTTP command path ---------------------------------------------------


Command = tuple[dict[str, str], dict[str, Any]]


def _mark_commands(generator: CityGenerator, schools: list[School]) -> list[Command]:
    """Every mark of the generated term as the teacher's request (headers, body)."""
    commands: list[Command] = []
    for school in schools:
        for lesson in generator.journal(school):
            headers = teacher_headers(school, lesson.teacher_id)
            for mark in lesson.marks:
                commands.append(
                    (
                        headers,
                        {
                            "mark_id": str(mark.mark_id),
                            "education_id": str(mark.education_id),
                            "subject_id": str(lesson.subject_id),
                            "lesson_date": lesson.lesson_date.isoformat(),
                            "lesson_number": lesson.lesson_number,
                            "value": mark.value,
                            "work_type": mark.work_type,
                        },
                    )
                )
    random.Random(5).shuffle(commands)
    return commands


async def _raw_insert_rate(infra: BenchInfra, bodies: list[dict[str, Any]], workers: int) -> float:
    """Seconds for raw asyncpg INSERTs of the same mark bodies, one row per transaction."""
    dsn = await fresh_database(infra, "rawmarks")
    pool = await create_pool(dsn, max_size=workers)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE raw_marks (mark_id uuid PRIMARY KEY, data jsonb NOT NULL)")
    queue = iter(bodies)

    async def worker() -> None:
        for body in queue:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO raw_marks (mark_id, data) VALUES ($1, $2)", uuid.UUID(body["mark_id"]), body
                )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    seconds = time.perf_counter() - started
    await pool.close()
    return seconds


async def figures_marks(
    infra: BenchInfra, n: int, lag_rate: float, lag_seconds: float
) -> list[dict[str, Any]]:
    """(a) Marks/s through POST /marks (closed loop, WORKERS clients) vs raw asyncpg INSERTs, and the
    lag from an accepted mark to its row in the diary read model vs raw Kafka produce → consume."""
    size = CitySize(schools=2, classes_per_grade=3, pupils_per_class=26, grades=(5, 7, 9, 11))
    generator = CityGenerator(size, seed=11)
    schools = [generator.school(i) for i in range(size.schools)]
    commands = _mark_commands(generator, schools)
    warm, timed, lagged = 200, n, int(lag_rate * lag_seconds)
    if len(commands) < warm + timed + lagged:
        raise RuntimeError(f"the generated term has {len(commands)} marks, fewer than the bench needs")
    async with running_gradebook(infra, "marks") as service:
        await publish(
            infra.kafka_bootstrap, city_records(generator, schools), topic_prefix=service.topic_prefix
        )
        async with httpx.AsyncClient(
            base_url=service.url, timeout=30, limits=httpx.Limits(max_connections=WORKERS)
        ) as client:
            driver = JournalDriver(client, generator, concurrency=WORKERS)
            for school in schools:
                await driver.wait_for_roster(school, timeout=300)
                await driver.set_timetables(school)
            refused = 0

            async def post(headers: dict[str, str], body: dict[str, Any]) -> bool:
                nonlocal refused
                response = await client.post("/marks", json=body, headers=headers)
                if response.status_code != 201:
                    refused += 1
                    if refused == 1:
                        print(
                            f"a mark was refused: {response.status_code} {response.text[:300]}",
                            file=sys.stderr,
                        )
                return response.status_code == 201

            async def closed_loop(batch: list[Command]) -> float:
                queue = iter(batch)

                async def worker() -> None:
                    for headers, body in queue:
                        await post(headers, body)

                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(WORKERS)))
                return time.perf_counter() - started

            await closed_loop(commands[:warm])
            seconds = await closed_loop(commands[warm : warm + timed])
            accepted: dict[str, float] = {}
            lag_batch = commands[warm + timed : warm + timed + lagged]

            async def record(i: int) -> None:
                headers, body = lag_batch[i]
                if await post(headers, body):
                    accepted[body["mark_id"]] = time.time()

            await asyncio.sleep(2)  # let the projectors drain the throughput run's backlog
            await open_loop(lag_rate, lag_seconds, record)
        conn = await asyncpg.connect(service.dsn)
        try:
            rows: list[asyncpg.Record] = []
            for _ in range(600):
                rows = await conn.fetch(
                    "SELECT mark_id::text AS id, extract(epoch FROM projected_at) AS at FROM diary_marks "
                    "WHERE mark_id = ANY($1::uuid[])",
                    list(accepted),
                )
                if len(rows) == len(accepted):
                    break
                await asyncio.sleep(0.1)
        finally:
            await conn.close()
    lags = [max(0.0, float(r["at"]) - accepted[r["id"]]) * 1000 for r in rows]
    raw_seconds = await _raw_insert_rate(infra, [body for _, body in commands[warm : warm + timed]], WORKERS)
    sample = Envelope.wrap(_a_mark(), source="/diary/bench").body()
    baseline = await raw_kafka_latency(infra, lag_rate, lag_seconds, f"bench{uuid.uuid4().hex[:6]}.", sample)
    return [
        throughput(
            "marks recorded over HTTP (POST /marks)",
            "marks/s",
            timed,
            seconds,
            "raw asyncpg INSERT of the same marks, one per transaction",
            raw_seconds,
            marks=timed,
            concurrent_clients=WORKERS,
            refused=refused,
            path="uvicorn + FastAPI → authorisation from the roster read model → event store + outbox",
        ),
        {
            "name": "mark lag, POST /marks accepted → in the diary read model",
            "unit": "ms",
            "p50": percentile(lags, 50),
            "p99": percentile(lags, 99),
            "baseline_name": "raw aiokafka produce (acks=all) → consume, same rate",
            "baseline_p50": percentile(baseline, 50),
            "baseline_p99": percentile(baseline, 99),
            "params": {
                "offered_load_per_s": lag_rate,
                "seconds": lag_seconds,
                "samples": len(lags),
                "accepted": len(accepted),
            },
        },
    ]


def _a_mark() -> MarkRecorded:
    return MarkRecorded(
        mark_id=uuid.uuid4(),
        education_id=uuid.uuid4(),
        subject_id=uuid.uuid4(),
        teacher_id=uuid.uuid4(),
        lesson_date=date.today(),
        value="5",
        work_type=WorkType.TEST.value,
        weight=WorkType.TEST.weight,
        recorded_at=datetime.now(UTC),
    )


# --- (b) diary-week queries on a city-sized read model -----------------------------------------


def journal_events(generator: CityGenerator, school: School, days: list[date]) -> Iterator[GradebookEvent]:
    """The events the journal commands would have produced for the generated timetable and days."""
    for klass in school.classes:
        for slot in school.timetable[klass.class_id]:
            yield TimetableSlotSet(
                class_id=klass.class_id,
                school_id=school.school_id,
                weekday=slot.weekday,
                lesson_number=slot.lesson_number,
                valid_from=generator.year_starts,
                subject_id=slot.subject_id,
                teacher_id=slot.teacher_id,
                room=slot.room,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
            )
    for lesson in generator.journal(school, days):
        yield from _lesson_events(lesson)


def _lesson_events(lesson: LessonActivity) -> Iterator[GradebookEvent]:
    at = datetime.combine(lesson.lesson_date, datetime.min.time(), tzinfo=UTC)
    facts = {
        "lesson_id": lesson_id_for(lesson.class_id, lesson.lesson_date, lesson.lesson_number),
        "class_id": lesson.class_id,
        "school_id": lesson.school_id,
        "subject_id": lesson.subject_id,
        "lesson_date": lesson.lesson_date,
        "lesson_number": lesson.lesson_number,
    }
    yield LessonTopicSet(**facts, teacher_id=lesson.teacher_id, lesson_topic=lesson.topic)
    if lesson.homework is not None:
        hw = lesson.homework
        yield HomeworkAssigned(
            **facts,
            homework_id=hw.homework_id,
            teacher_id=lesson.teacher_id,
            due_on=hw.due_on,
            kind=hw.kind,
            text=hw.text,
        )
    for line in lesson.attendance:
        yield AttendanceMarked(
            **facts,
            education_id=line.education_id,
            teacher_id=lesson.teacher_id,
            status=line.status,
            absence_reason=line.absence_reason,
            minutes_late=line.minutes_late,
        )
    for remark in lesson.remarks:
        yield RemarkMade(
            **facts,
            remark_id=remark.remark_id,
            education_id=remark.education_id,
            teacher_id=lesson.teacher_id,
            text=remark.text,
            made_at=at,
        )
    for mark in lesson.marks:
        work = WorkType(mark.work_type)
        yield MarkRecorded(
            mark_id=mark.mark_id,
            education_id=mark.education_id,
            subject_id=lesson.subject_id,
            teacher_id=lesson.teacher_id,
            lesson_date=lesson.lesson_date,
            value=mark.value,
            work_type=work.value,
            weight=work.weight,
            recorded_at=at,
            lesson_id=facts["lesson_id"],
            lesson_number=lesson.lesson_number,
            class_id=lesson.class_id,
            school_id=lesson.school_id,
        )


async def _apply_directly(dsn: str, generator: CityGenerator, days: list[date], parallel: int = 8) -> int:
    """Journal events through the gradebook's own projection classes straight into its tables
    (no Kafka: a term of a city's journal over HTTP would take hours)."""
    projections: list[Projection] = [JournalProjection(), DiaryMarksProjection()]
    pool = await create_pool(dsn, max_size=parallel)
    applied = 0
    indexes = iter(range(generator.size.schools))

    async def worker() -> None:
        nonlocal applied
        for index in indexes:
            school = generator.school(index)
            batch: list[Envelope] = []
            for event in journal_events(generator, school, days):
                batch.append(Envelope.wrap(event, source="/diary/bench"))
                if len(batch) >= 1000:
                    await flush(batch)
            await flush(batch)

    async def flush(batch: list[Envelope]) -> None:
        nonlocal applied
        async with pool.acquire() as conn, conn.transaction():
            for envelope in batch:
                for projection in projections:
                    await projection.apply(conn, envelope)
        applied += len(batch)
        batch.clear()

    await asyncio.gather(*(worker() for _ in range(parallel)))
    await pool.close()
    return applied


async def _wait_for_count(dsn: str, table: str, expected: int, timeout: float) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            count = await conn.fetchval(f"SELECT count(*) FROM {table}")
            if count >= expected:
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"{table}: {count} of {expected} rows after {timeout:.0f} s")
            await asyncio.sleep(1)
    finally:
        await conn.close()


async def figures_diary_week(
    infra: BenchInfra, pupils: int, weeks: int, seconds: float, import_timeout: float
) -> list[dict[str, Any]]:
    """(b) GET /diary/{education_id}/week on a read model of a city's `pupils` vs a bare asyncpg
    primary-key read, same clients. The roster goes the real way (registry topic → importer →
    event store → relay → projections); the journal's events go through the projection classes."""
    per_school = 11 * 3 * 26
    size = CitySize(schools=math.ceil(pupils / per_school), classes_per_grade=3, pupils_per_class=26)
    generator = CityGenerator(size, seed=2026, weeks=weeks)
    async with running_gradebook(infra, "city") as service:
        published = await publish(
            infra.kafka_bootstrap,
            city_records(generator, generator.schools()),
            topic_prefix=service.topic_prefix,
        )
        expected = size.pupils + size.schools  # each school's leaver is one more education
        imported = await _wait_for_count(service.dsn, "roster_educations", expected, import_timeout)
        await _wait_for_count(service.dsn, "roster_assignments", 1, 60)
        started = time.perf_counter()
        events = await _apply_directly(service.dsn, generator, generator.days)
        applied_seconds = time.perf_counter() - started

        conn = await asyncpg.connect(service.dsn)
        try:
            educations = [r[0] for r in await conn.fetch("SELECT education_id FROM roster_educations")]
            marks = await conn.fetchval("SELECT count(*) FROM diary_marks")
        finally:
            await conn.close()
        rng = random.Random(3)
        days = generator.days

        async def load(op: Any, clients: int) -> tuple[list[float], int, float]:
            latencies: list[float] = []
            deadline = time.perf_counter() + seconds

            async def worker() -> None:
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    await op(rng.choice(educations), rng.choice(days))
                    latencies.append((time.perf_counter() - started) * 1000)

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return latencies, len(latencies), time.perf_counter() - began

        async with httpx.AsyncClient(
            base_url=service.url, timeout=30, limits=httpx.Limits(max_connections=WORKERS)
        ) as client:
            failures = 0

            async def week(education_id: uuid.UUID, day: date) -> None:
                nonlocal failures
                response = await client.get(f"/diary/{education_id}/week", params={"date": day.isoformat()})
                failures += response.status_code != 200

            await load(week, WORKERS)  # warm-up: connections, caches, query plans
            query, _, _ = await load(week, LATENCY_CLIENTS)
            _, queries, query_seconds = await load(week, WORKERS)

        pool = await create_pool(service.dsn, max_size=WORKERS)

        async def pk_read(education_id: uuid.UUID, day: date) -> None:
            async with pool.acquire() as conn:
                await conn.fetchrow("SELECT * FROM roster_educations WHERE education_id = $1", education_id)

        await load(pk_read, WORKERS)
        raw, _, _ = await load(pk_read, LATENCY_CLIENTS)
        _, reads, raw_seconds = await load(pk_read, WORKERS)
        await pool.close()
    params = {
        "pupils": len(educations),
        "schools": size.schools,
        "marks_in_read_model": marks,
        "journal_days": len(days),
        "clients_latency": LATENCY_CLIENTS,
        "clients_throughput": WORKERS,
        "failed_queries": failures,
        "roster_path": "registry topic → importer → event store → relay → projections (real service)",
        "roster_records": published.records,
        "roster_import_s": round(imported, 1),
        "roster_import_records_per_s": round(published.records / imported),
        "journal_path": "generator events applied through JournalProjection and DiaryMarksProjection",
        "journal_events": events,
        "journal_apply_s": round(applied_seconds, 1),
    }
    return [
        {
            "name": "diary week query, GET /diary/{id}/week",
            "unit": "ms",
            "p50": percentile(query, 50),
            "p99": percentile(query, 99),
            "baseline_name": "bare asyncpg primary-key read, same clients",
            "baseline_p50": percentile(raw, 50),
            "baseline_p99": percentile(raw, 99),
            "params": params,
        },
        throughput(
            "diary week queries",
            "queries/s",
            queries,
            query_seconds,
            "bare asyncpg primary-key reads, same clients",
            raw_seconds * queries / reads,
            **params,
        ),
    ]
