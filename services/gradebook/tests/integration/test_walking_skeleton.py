"""A mark goes in over HTTP and comes out of the diary: event store + outbox → relay → Kafka →
projector → read model → HTTP, against real PostgreSQL and Kafka, in one process."""

from collections.abc import AsyncIterator
from datetime import date
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI

from diary_kernel.testing import eventually
from gradebook.bootstrap import GradebookSettings, build_app

pytestmark = pytest.mark.infra


@pytest.fixture
async def gradebook(
    postgres_dsn: str, kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = GradebookSettings(
        database_url=postgres_dsn, kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_prefix=topic_prefix
    )
    app: FastAPI = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gradebook") as client:
            yield client


def a_mark(**overrides: Any) -> dict[str, Any]:
    body = {
        "mark_id": str(uuid4()),
        "education_id": str(uuid4()),
        "subject_id": str(uuid4()),
        "teacher_id": str(uuid4()),
        "lesson_date": date.today().isoformat(),
        "value": "5",
        "work_type": "контрольная работа",
    }
    body.update(overrides)
    return body


async def visible(client: httpx.AsyncClient, path: str, predicate: Any = bool) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        response = await client.get(path)
        if response.status_code == 200 and predicate(response.json()):
            return response.json()  # type: ignore[no-any-return]
        return None

    return await eventually(probe)


async def test_a_recorded_mark_becomes_queryable_in_the_diary(gradebook: httpx.AsyncClient) -> None:
    mark = a_mark()
    response = await gradebook.post("/marks", json=mark)
    assert response.status_code == 201, response.text
    assert response.json() == {"mark_id": mark["mark_id"], "version": 1}
    assert response.headers["location"] == f"/marks/{mark['mark_id']}"

    shown = await visible(gradebook, f"/marks/{mark['mark_id']}")
    assert shown["value"] == "5"
    assert shown["weight"] == 3
    assert (await gradebook.get(f"/marks/{mark['mark_id']}")).headers["etag"] == '"1"'

    second = a_mark(
        education_id=mark["education_id"],
        subject_id=mark["subject_id"],
        value="3",
        work_type="ответ на уроке",
    )
    assert (await gradebook.post("/marks", json=second)).status_code == 201
    diary = await visible(
        gradebook, f"/diary/{mark['education_id']}/marks", lambda body: len(body["marks"]) == 2
    )
    assert diary["averages"] == [{"subject_id": mark["subject_id"], "weighted_average": "4.50", "marks": 2}]


async def test_a_retried_recording_is_not_duplicated(gradebook: httpx.AsyncClient) -> None:
    mark = a_mark()
    assert (await gradebook.post("/marks", json=mark)).status_code == 201
    retry = await gradebook.post("/marks", json=mark)
    assert retry.status_code == 200
    assert retry.json()["version"] == 1
    different = await gradebook.post("/marks", json={**mark, "value": "2"})
    assert different.status_code == 422
    assert different.json()["errors"][0]["field"] == "mark_id"


async def test_two_concurrent_corrections_of_the_same_version_one_wins(
    gradebook: httpx.AsyncClient,
) -> None:
    mark = a_mark()
    await gradebook.post("/marks", json=mark)
    path = f"/marks/{mark['mark_id']}/corrections"
    first = await gradebook.post(path, json={"value": "4", "reason": "опечатка"}, headers={"If-Match": '"1"'})
    stale = await gradebook.post(
        path, json={"value": "3", "reason": "пересдача"}, headers={"If-Match": '"1"'}
    )
    assert first.status_code == 200
    assert first.json()["version"] == 2
    assert stale.status_code == 409
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["current_version"] == 2

    shown = await visible(gradebook, f"/marks/{mark['mark_id']}", lambda m: m["version"] == 2)
    assert shown["value"] == "4"
    assert shown["correction_reason"] == "опечатка"


async def test_bad_input_gets_problem_json_naming_the_field(gradebook: httpx.AsyncClient) -> None:
    response = await gradebook.post("/marks", json=a_mark(value="6", lesson_date="2026-13-01"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"value", "lesson_date"}

    future = await gradebook.post("/marks", json=a_mark(lesson_date="2999-01-01"))
    assert future.status_code == 422
    assert future.json()["errors"] == [
        {"field": "lesson_date", "message": "a mark cannot be put for a lesson in the future"}
    ]
    missing = await gradebook.get(f"/marks/{uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_openapi_documents_errors_as_problem_json(gradebook: httpx.AsyncClient) -> None:
    spec = (await gradebook.get("/openapi.json")).json()
    record = spec["paths"]["/marks"]["post"]["responses"]
    assert set(record["422"]["content"]) == {"application/problem+json"}
    problem = spec["components"]["schemas"]["ProblemDetails"]
    assert {"type", "title", "status", "errors"} <= set(problem["properties"])


async def test_operations_endpoints(gradebook: httpx.AsyncClient) -> None:
    assert (await gradebook.get("/healthz")).json() == {"status": "ok"}
    ready = await gradebook.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}
    await gradebook.post("/marks", json=a_mark())
    await eventually(lambda: _metric_positive(gradebook, "diary_projector_events_total"))
    text = (await gradebook.get("/metrics")).text
    assert "diary_outbox_backlog" in text
    assert "diary_consumer_lag" in text
    response = await gradebook.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert response.headers["x-request-id"] == "abc123"


async def _metric_positive(client: httpx.AsyncClient, name: str) -> bool:
    text = (await client.get("/metrics")).text
    return any(line.startswith(name) and float(line.rsplit(" ", 1)[1]) > 0 for line in text.splitlines())
