"""Helpers for tests that put the gateway in front of identity, gradebook and applications (and,
when a test runs it, notifications)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from fastapi import FastAPI

from applications.testing import Platform
from diary_kernel.db import Pool
from diary_kernel.testing import bearer, eventually, serving
from gateway.adapters.upstream import Upstream, Upstreams
from gateway.bootstrap import GatewaySettings, build_app
from identity.testing import PUBLIC_URL

GATEWAY_URL = "http://gateway.test"


@dataclass
class GatewayUnderTest:
    client: httpx.AsyncClient
    app: FastAPI
    platform: Platform

    @property
    def pool(self) -> Pool:
        pool: Pool = self.app.state.runtime.pool
        return pool

    async def get(self, path: str, token: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, headers=bearer(token), params=params)

    async def linked(self, account_id: UUID, pupil_id: UUID, *, linked: bool = True) -> None:
        """Wait until the access read model shows the parent link (or its end)."""

        async def probe() -> bool:
            async with self.pool.acquire() as conn:
                found = await conn.fetchval(
                    """SELECT bool_or(linked) FROM access_links
                       WHERE parent_account_id = $1 AND pupil_id = $2""",
                    account_id,
                    pupil_id,
                )
            return found is not None and found == linked  # no row yet is neither

        await eventually(probe, timeout=20, interval=0.02)


def gateway_settings(platform: Platform, database_url: str, **changes: Any) -> GatewaySettings:
    return GatewaySettings(
        database_url=database_url,
        kafka_bootstrap_servers=platform.bootstrap,
        kafka_topic_prefix=platform.topic_prefix,
        public_url=GATEWAY_URL,
        token_issuer=PUBLIC_URL,
        jwks_url=f"{PUBLIC_URL}/.well-known/jwks.json",
        **changes,
    )


def _absent(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("no such service in this test", request=request)


def absent_service() -> httpx.AsyncClient:
    """A client for a service the test does not run: every call fails to connect (the gateway's 502)."""
    return httpx.AsyncClient(transport=httpx.MockTransport(_absent), base_url="http://absent.test")


def upstreams_of(platform: Platform, notifications: httpx.AsyncClient | None = None) -> Upstreams:
    """The platform's in-process services as the gateway's upstreams.

    Notifications is not part of the platform; pass a client of one the test runs
    (`notifications.testing.running_notifications(...).client`), else it does not answer.
    """
    return Upstreams(
        identity=Upstream("identity", platform.identity.client),
        gradebook=Upstream("gradebook", platform.gradebook),
        applications=Upstream("applications", platform.applications.client),
        notifications=Upstream("notifications", notifications or absent_service()),
    )


@contextlib.asynccontextmanager
async def running_gateway(
    platform: Platform,
    database_url: str,
    *,
    notifications_client: httpx.AsyncClient | None = None,
    **settings: Any,
) -> AsyncIterator[GatewayUnderTest]:
    upstreams = upstreams_of(platform, notifications_client)
    app = build_app(gateway_settings(platform, database_url, **settings), upstreams=upstreams)
    async with serving(app, GATEWAY_URL) as client:
        yield GatewayUnderTest(client, app, platform)


async def roster_arrived(gateway: GatewayUnderTest) -> None:
    """Wait until the access read model has the tiny school's enrolments, classes and teaching."""
    school = gateway.platform.school

    async def probe() -> bool:
        async with gateway.pool.acquire() as conn:
            educations = await conn.fetchval(
                "SELECT count(*) FROM access_educations WHERE school_id = $1", school.school_id
            )
            teaching = await conn.fetchval(
                "SELECT count(*) FROM access_teaching WHERE teacher_id = $1 AND active", school.maths_teacher
            )
            classes = await conn.fetchval(
                "SELECT count(*) FROM access_classes WHERE school_id = $1 AND form_teacher_id IS NOT NULL",
                school.school_id,
            )
        return bool(educations == len(school.pupils) and teaching == 2 and classes == 2)

    await eventually(probe, timeout=30)
