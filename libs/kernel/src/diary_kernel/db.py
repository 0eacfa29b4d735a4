"""PostgreSQL access: a pool with JSON codecs, and the schema migrations every service runs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


async def _init_connection(conn: Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name,
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    """A pool whose connections read and write jsonb as Python values."""
    pool: Pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
    return pool


@dataclass(frozen=True)
class Migration:
    component: str
    name: str
    sql: str


def package_migrations(package: str, component: str | None = None) -> list[Migration]:
    """The `migrations/*.sql` files shipped in a package, in file-name order."""
    folder = resources.files(package).joinpath("migrations")
    files = sorted((item for item in folder.iterdir() if item.name.endswith(".sql")), key=lambda i: i.name)
    return [Migration(component or package, item.name, item.read_text("utf-8")) for item in files]


def kernel_migrations() -> list[Migration]:
    return package_migrations("diary_kernel", "kernel")


async def migrate(pool_or_conn: Pool | Connection, migrations: Iterable[Migration]) -> list[str]:
    """Apply what has not been applied yet, each in its own transaction; returns what ran.

    An advisory lock makes replicas that start together apply each migration exactly once.
    """
    applied: list[str] = []
    lock_key = int.from_bytes(hashlib.sha256(b"diary-migrations").digest()[:8], "big", signed=True)

    async def run(conn: Connection) -> None:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   component text NOT NULL, name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (component, name))"""
        )
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
        try:
            for migration in migrations:
                async with conn.transaction():
                    done = await conn.fetchval(
                        "SELECT 1 FROM schema_migrations WHERE component = $1 AND name = $2",
                        migration.component,
                        migration.name,
                    )
                    if done:
                        continue
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (component, name) VALUES ($1, $2)",
                        migration.component,
                        migration.name,
                    )
                    applied.append(f"{migration.component}/{migration.name}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)

    if isinstance(pool_or_conn, asyncpg.Pool):
        async with pool_or_conn.acquire() as conn:
            await run(conn)
    else:
        await run(pool_or_conn)
    return applied
