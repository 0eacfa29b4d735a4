"""The access read model rebuilt from Kafka equals the one built live, links and their ends included."""

from typing import Any
from uuid import UUID

from diary_kernel.projector import ProjectorRunner
from gateway.adapters.access_model import AccessModel
from gateway.testing import GatewayUnderTest


async def snapshot(gateway: GatewayUnderTest, model: AccessModel) -> dict[str, list[Any]]:
    async with gateway.pool.acquire() as conn:
        return {
            table: [tuple(row.values()) for row in await conn.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")]
            for table in model.tables
        }


async def test_rebuilding_the_access_model_from_the_topics_equals_the_live_one(
    gateway: GatewayUnderTest,
) -> None:
    platform, school = gateway.platform, gateway.platform.school
    parent = await platform.parent_token()
    staff = await platform.staff_token()
    kept = await platform.link(parent, 0, staff)
    ended = await platform.link(parent, 1, staff)
    revoked = await platform.applications.post(f"/applications/{ended}/link-revocation", staff)
    assert revoked.status_code == 204
    account = UUID((await gateway.get("/api/v1/me", parent)).json()["account_id"])
    await gateway.linked(account, school.pupils[0])
    await gateway.linked(account, school.pupils[1], linked=False)

    model = AccessModel()
    live = await snapshot(gateway, model)
    assert all(live.values())
    assert {row[0] for row in live["access_links"]} == {kept, ended}
    runner = ProjectorRunner(model, gateway.pool, platform.bootstrap, topic_prefix=platform.topic_prefix)
    assert await runner.rebuild() > 0
    assert await snapshot(gateway, model) == live
