"""`gradebook serve` runs the service; `gradebook rebuild` replays its read models."""

from __future__ import annotations

import argparse
import asyncio

import uvicorn

from diary_kernel.logs import configure_logging
from diary_kernel.service import rebuild_read_models
from gradebook.entrypoints import demo


def main(argv: list[str] | None = None) -> None:
    from gradebook.bootstrap import GradebookSettings, build_app, definition

    parser = argparse.ArgumentParser(prog="gradebook")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="HTTP API, outbox relay and projectors")
    rebuild = commands.add_parser("rebuild", help="replay read models from the topics")
    rebuild.add_argument("projection", nargs="?", help="one projection by name (default: all)")
    demo_parser = commands.add_parser("demo", help="record demo marks through a running service")
    demo_parser.add_argument("--url", default="http://127.0.0.1:8101")
    args = parser.parse_args(argv)
    if args.command == "demo":
        created = demo.load(args.url)
        print(f"demo data: {created} marks accepted; demo pupil's diary {demo.DEMO_PUPIL}")
        return

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

    replayed = asyncio.run(rebuild_read_models(definition(settings), settings, args.projection))
    for name, applied in replayed.items():
        print(f"{name}: {applied} events applied")


if __name__ == "__main__":
    main()
