"""The gradebook as real processes: killed between commit and publish, killed mid-burst,
and its read model rebuilt from the topic by the `gradebook rebuild` command."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from diary_kernel.testing import eventually
from gradebook.testing import TinySchool, publish

pytestmark = pytest.mark.infra


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GradebookProcess:
    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env = env
        self.school = TinySchool()
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}"

    async def start(self, **extra_env: str) -> None:
        env = {**self.env, **extra_env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gradebook.entrypoints.cli", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        async def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"gradebook exited: {self.process.stderr.read().decode()[-3000:]}"  # type: ignore[union-attr]
                )
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"{self.url}/readyz")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(ready, timeout=60, interval=0.2)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def rebuild(self) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "gradebook.entrypoints.cli", "rebuild"],
            env=self.env,
            capture_output=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr.decode()[-3000:]
        return result.stdout.decode()


@pytest.fixture
def gradebook_env(postgres_dsn: str, kafka_bootstrap: str, topic_prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "GRADEBOOK_DATABASE_URL": postgres_dsn,
        "DIARY_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DIARY_KAFKA_TOPIC_PREFIX": topic_prefix,
        "GRADEBOOK_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
async def gradebook(gradebook_env: dict[str, str]) -> AsyncIterator[GradebookProcess]:
    port = free_port()
    process = GradebookProcess({**gradebook_env, "GRADEBOOK_HTTP_PORT": str(port)}, port)
    yield process
    if process.process is not None and process.process.poll() is None:
        process.kill()


async def with_school(gradebook: GradebookProcess, dsn: str) -> None:
    """Import the tiny school from the registry topic and wait until teachers may write."""
    env = gradebook.env
    school = gradebook.school
    await publish(
        env["DIARY_KAFKA_BOOTSTRAP_SERVERS"], school.records(), topic_prefix=env["DIARY_KAFKA_TOPIC_PREFIX"]
    )

    async def roster_ready() -> bool:
        conn = await asyncpg.connect(dsn)
        try:
            count = await conn.fetchval(
                "SELECT count(*) FROM roster_educations WHERE education_id = ANY($1::uuid[])",
                school.educations,
            )
            assigned = await conn.fetchval("SELECT count(*) FROM roster_assignments WHERE active")
        except asyncpg.UndefinedTableError:
            return False
        finally:
            await conn.close()
        return bool(count == len(school.educations) and assigned == len(school.assignments))

    await eventually(roster_ready, timeout=30)


def a_mark(school: TinySchool, n: int = 0) -> dict[str, Any]:
    return {
        "mark_id": str(uuid4()),
        "education_id": str(school.educations[n % 3]),
        "subject_id": str(school.maths),
        "lesson_date": date.today().isoformat(),
        "value": "4",
    }


async def all_visible(url: str, mark_ids: list[str]) -> bool:
    async with httpx.AsyncClient(base_url=url) as client:
        for mark_id in mark_ids:
            if (await client.get(f"/marks/{mark_id}")).status_code != 200:
                return False
    return True


async def read_model(dsn: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT mark_id, education_id, value, version, corrected_at FROM diary_marks ORDER BY mark_id"
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def test_killed_between_commit_and_publish_loses_nothing(
    gradebook: GradebookProcess, postgres_dsn: str
) -> None:
    await gradebook.start()
    await with_school(gradebook, postgres_dsn)
    gradebook.kill()
    await gradebook.start(GRADEBOOK_RUN_RELAY="false")
    marks = [a_mark(gradebook.school, n) for n in range(25)]
    async with httpx.AsyncClient(base_url=gradebook.url, headers=gradebook.school.teacher()) as client:
        for mark in marks:
            assert (await client.post("/marks", json=mark)).status_code == 201
    gradebook.kill()

    conn = await asyncpg.connect(postgres_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 25
    finally:
        await conn.close()

    await gradebook.start()
    await eventually(lambda: all_visible(gradebook.url, [m["mark_id"] for m in marks]), timeout=30)


async def test_killed_mid_burst_every_accepted_mark_arrives_once_and_a_rebuild_equals_it(
    gradebook: GradebookProcess, postgres_dsn: str
) -> None:
    await gradebook.start()
    await with_school(gradebook, postgres_dsn)
    accepted: list[str] = []

    async def teacher(count: int) -> None:
        async with httpx.AsyncClient(base_url=gradebook.url, headers=gradebook.school.teacher()) as client:
            for n in range(count):
                mark = a_mark(gradebook.school, n)
                try:
                    response = await client.post("/marks", json=mark)
                except httpx.HTTPError:
                    return
                if response.status_code == 201:
                    accepted.append(mark["mark_id"])

    burst = asyncio.gather(*(teacher(100) for _ in range(4)))
    await eventually(lambda: _at_least(accepted, 60), timeout=60, interval=0.01)
    gradebook.kill()
    await burst

    await gradebook.start()
    await eventually(lambda: all_visible(gradebook.url, accepted), timeout=60)
    async with httpx.AsyncClient(base_url=gradebook.url, headers=gradebook.school.teacher()) as client:
        corrected = await client.post(
            f"/marks/{accepted[0]}/corrections", json={"value": "5", "reason": "пересдача"}
        )
        assert corrected.status_code == 200

        async def correction_visible() -> bool:
            return (await client.get(f"/marks/{accepted[0]}")).json()["version"] == 2

        await eventually(correction_visible)
    gradebook.kill()

    live = await read_model(postgres_dsn)
    assert {str(row["mark_id"]) for row in live} >= set(accepted)
    conn = await asyncpg.connect(postgres_dsn)
    try:
        published = await conn.fetchval("SELECT count(*) FROM events")
    finally:
        await conn.close()
    output = gradebook.rebuild()
    assert f"gradebook.diary-marks: {published} events applied" in output
    assert await read_model(postgres_dsn) == live


async def _at_least(items: list[str], count: int) -> bool:
    return len(items) >= count
