"""`gradebook serve` runs the service; `gradebook rebuild` replays its read models."""

from __future__ import annotations

import argparse

from diary_kernel import commands as service_commands
from diary_kernel.logs import configure_logging
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
        service_commands.serve(build_app(settings), settings)
        return

    service_commands.rebuild(definition(settings), settings, args.projection)


if __name__ == "__main__":
    main()
