"""`applications serve` runs the service; `rebuild` replays its read models; `erase-pupil`
forgets a pupil's name in the matching read model for good; `demo` links the demo parent."""

from __future__ import annotations

import argparse
import asyncio
import uuid
from pathlib import Path

from diary_kernel import commands as service_commands
from diary_kernel.db import create_pool
from diary_kernel.logs import configure_logging


def main(argv: list[str] | None = None) -> None:
    from applications.bootstrap import ApplicationsSettings, build_app, definition

    parser = argparse.ArgumentParser(prog="applications")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="HTTP API, outbox relay, read models, roster consumer")
    rebuild = commands.add_parser("rebuild", help="replay read models from the topics")
    rebuild.add_argument("projection", nargs="?")
    erase = commands.add_parser("erase-pupil", help="forget a pupil's name (after the registry erased it)")
    erase.add_argument("pupil_id", type=uuid.UUID)
    demo_parser = commands.add_parser("demo", help="link the demo parent to the demo pupil through the APIs")
    demo_parser.add_argument("--url", default="http://127.0.0.1:8103")
    demo_parser.add_argument("--identity-url", default="http://127.0.0.1:8102")
    demo_parser.add_argument("--mailbox", type=Path, required=True, help="the SMTP sink's Maildir")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from applications.entrypoints import demo

        application_id = asyncio.run(demo.load(args.url, args.identity_url, args.mailbox))
        print(f"demo parent {demo.DEMO_PARENT} linked to the demo pupil by application {application_id}")
        print(f"school staff: {demo.DEMO_STAFF} (password: {demo.DEMO_PASSWORD})")
        return

    settings = ApplicationsSettings()
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "serve":
        service_commands.serve(build_app(settings), settings)
    elif args.command == "rebuild":
        service_commands.rebuild(definition(settings), settings, args.projection)
    else:
        asyncio.run(_erase(settings.database_url, args.pupil_id))
        print(f"pupil {args.pupil_id}: name erased from the matching read model")


async def _erase(database_url: str, pupil_id: uuid.UUID) -> None:
    from applications.adapters.roster import erase_pupil

    pool = await create_pool(database_url)
    try:
        async with pool.acquire() as conn:
            await erase_pupil(conn, pupil_id)
    finally:
        await pool.close()


if __name__ == "__main__":
    main()
