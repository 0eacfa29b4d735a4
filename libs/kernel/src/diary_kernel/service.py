"""The service skeleton: resources, background workers and the HTTP shell every service shares.

A service describes itself (migrations, topics, projections) and `ServiceRuntime` starts the
rest the same way everywhere: pool, migrations, topics, outbox relay, projectors; `create_app`
adds health, readiness, metrics, request ids and problem+json around the service's routers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from diary_kernel import metrics
from diary_kernel.db import Migration, Pool, create_pool, kernel_migrations, migrate
from diary_kernel.eventstore import EventStore
from diary_kernel.logs import request_id
from diary_kernel.problems import declare_problem_media_type, install_problem_handlers, problem_response
from diary_kernel.projector import Projection, ProjectorRunner
from diary_kernel.relay import OutboxRelay, idempotent_producer
from diary_kernel.settings import ServiceSettings
from diary_kernel.topics import TopicSpec, ensure_topics

log = logging.getLogger(__name__)


@dataclass
class ServiceDefinition:
    """What makes one service different from another, as data.

    `projections` build read models (and can be rebuilt); `inbound` consumers turn integration
    messages into commands on the service's aggregates. Both run on the projector runner (inbox,
    dead-letter topic), but replaying an inbound topic is never part of a rebuild.
    """

    name: str
    migrations: Sequence[Migration] = ()
    topics: Sequence[TopicSpec] = ()
    projections: Sequence[Projection] = ()
    inbound: Sequence[Projection] = ()


@dataclass
class ServiceRuntime:
    """Owns a running service's connections and workers."""

    definition: ServiceDefinition
    settings: ServiceSettings
    pool: Pool | None = None
    producer: AIOKafkaProducer | None = None
    store: EventStore = field(init=False)
    projectors: list[ProjectorRunner] = field(default_factory=list)
    relay: OutboxRelay | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = EventStore(
            source=f"/diary/{self.definition.name}", topic_prefix=self.settings.kafka_topic_prefix
        )

    async def start(self) -> None:
        s = self.settings
        self.pool = await create_pool(s.database_url, max_size=s.db_pool_size)
        await migrate(self.pool, [*kernel_migrations(), *self.definition.migrations])
        self.projectors = [
            ProjectorRunner(p, self.pool, s.kafka_bootstrap_servers, topic_prefix=s.kafka_topic_prefix)
            for p in [*self.definition.projections, *self.definition.inbound]
        ]
        specs = [
            *(replace(spec, name=s.kafka_topic_prefix + spec.name) for spec in self.definition.topics),
            *(spec for runner in self.projectors for spec in runner.topic_specs()),
        ]
        await ensure_topics(s.kafka_bootstrap_servers, specs)
        self.producer = idempotent_producer(s.kafka_bootstrap_servers)
        await self.producer.start()
        self._stopping.clear()
        self.relay = relay = OutboxRelay(self.pool, self.producer)
        if s.run_relay:
            self._spawn("outbox-relay", lambda: relay.run(self._stopping))
        if s.run_projectors:
            for runner in self.projectors:
                self._spawn(f"projector:{runner.projection.name}", partial(runner.run, self._stopping))

    async def stop(self) -> None:
        self._stopping.set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=10)
            for task in pending:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()
        if self.producer is not None:
            await self.producer.stop()
        if self.pool is not None:
            await self.pool.close()

    async def readiness(self) -> dict[str, str]:
        """Checks that the database answers and the Kafka cluster serves metadata."""
        checks: dict[str, str] = {}
        try:
            assert self.pool is not None
            async with self.pool.acquire(timeout=2) as conn:
                await conn.fetchval("SELECT 1")
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"failing: {type(exc).__name__}"
        try:
            assert self.producer is not None
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), timeout=2)
            checks["kafka"] = "ok"
        except Exception as exc:
            checks["kafka"] = f"failing: {type(exc).__name__}"
        for task in self._tasks:
            if task.done():
                checks[task.get_name()] = "stopped"
        return checks

    def spawn_worker(self, name: str, run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Run a service's own background loop (until the given event is set), supervised."""
        self._spawn(name, lambda: run(self._stopping))

    def _spawn(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        async def supervised() -> None:
            # A worker that dies is started again, so a broker restart does not leave it deaf.
            delay = 0.5
            while not self._stopping.is_set():
                try:
                    await work()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("background worker failed; restarting", extra={"worker": name})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)

        self._tasks.append(asyncio.create_task(supervised(), name=name))


async def rebuild_read_models(
    definition: ServiceDefinition, settings: ServiceSettings, only: str | None = None
) -> dict[str, int]:
    """Replay a service's projections from its topics (the service stopped); events applied."""
    pool = await create_pool(settings.database_url)
    try:
        await migrate(pool, [*kernel_migrations(), *definition.migrations])
        applied = {}
        for projection in definition.projections:
            if only and projection.name != only:
                continue
            runner = ProjectorRunner(
                projection, pool, settings.kafka_bootstrap_servers, topic_prefix=settings.kafka_topic_prefix
            )
            applied[projection.name] = await runner.rebuild()
        if only and not applied:
            raise LookupError(f"no projection named {only!r}")
        return applied
    finally:
        await pool.close()


_QUIET_ROUTES = {"/healthz", "/readyz", "/metrics"}


class _RequestContext(BaseHTTPMiddleware):
    """Request ids (taken from the caller or made here) and request metrics."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            request_id.reset(token)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        elapsed = time.perf_counter() - started
        metrics.http_requests.labels(request.method, path, str(response.status_code)).observe(elapsed)
        if path not in _QUIET_ROUTES:
            log.info(
                "request",
                extra={
                    "request_id": rid,
                    "method": request.method,
                    "route": path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
        response.headers["x-request-id"] = rid
        return response


def create_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    description: str = "",
    on_started: Callable[[FastAPI], Awaitable[Any]] | None = None,
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        if on_started is not None:
            await on_started(app)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.add_middleware(_RequestContext)
    install_problem_handlers(app)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process is serving")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Readiness: database and Kafka answer")
    async def readyz() -> Response:
        checks = await runtime.readiness()
        if all(value == "ok" for value in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        return problem_response(503, "Not ready", "A dependency is failing.", checks=checks)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        if runtime.relay is not None:
            with contextlib.suppress(Exception):
                await runtime.relay.backlog()  # sets the gauge
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    declare_problem_media_type(app)
    return app
