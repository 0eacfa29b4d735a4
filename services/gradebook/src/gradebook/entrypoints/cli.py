"""`gradebook serve` runs the service; `gradebook rebuild` replays its read models."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from diary_kernel.db import create_pool, kernel_migrations, migrate
from diary_kernel.logs import configure_logging
from diary_kernel.projector import ProjectorRunner


def main(argv: list[str] | None = None) -> None:
    from gradebook.bootstrap import GradebookSettings, build_app, definition

    parser = argparse.ArgumentParser(prog="gradebook")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="HTTP API, outbox relay and projectors")
    rebuild = commands.add_parser("rebuild", help="replay read models from the topics")
    rebuild.add_argument("projection", nargs="?", help="one projection by name (default: all)")
    args = parser.parse_args(argv)

    settings = GradebookSettings()
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "serve":
        uvicorn.run(
            build_app(settings),
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
        )
        return

    async def replay() -> None:
        service = definition()
        pool = await create_pool(settings.database_url)
        try:
            await migrate(pool, [*kernel_migrations(), *service.migrations])
            for projection in service.projections:
                if args.projection and projection.name != args.projection:
                    continue
                applied = await ProjectorRunner(projection, pool, settings.kafka_bootstrap_servers).rebuild()
                print(f"{projection.name}: {applied} events applied")
        finally:
            await pool.close()

    asyncio.run(replay())
