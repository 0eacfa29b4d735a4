"""`notifications serve` runs the API and the e-mail sender; `worker` runs the faust-streaming
join; `rebuild` replays the reference names from the topics."""

from __future__ import annotations

import argparse
import sys

from diary_kernel import commands as service_commands
from diary_kernel.logs import configure_logging


def main(argv: list[str] | None = None) -> None:
    from notifications.bootstrap import NotificationsSettings, build_app, definition

    parser = argparse.ArgumentParser(prog="notifications")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="HTTP API, e-mail sender, reference names")
    commands.add_parser("worker", help="the faust-streaming worker: events → notices → deliveries")
    rebuild = commands.add_parser("rebuild", help="replay the reference names from the topics")
    rebuild.add_argument("projection", nargs="?")
    args = parser.parse_args(argv)
    settings = NotificationsSettings()
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "serve":
        service_commands.serve(build_app(settings), settings)
    elif args.command == "worker":
        run_worker(settings)
    else:
        service_commands.rebuild(definition(settings), settings, args.projection)


def run_worker(settings: object) -> None:
    import asyncio
    from datetime import timedelta

    import faust

    from diary_kernel.topics import ensure_topics
    from notifications.bootstrap import NotificationsSettings
    from notifications.entrypoints.stream import build_stream_app, stream_topics

    assert isinstance(settings, NotificationsSettings)
    topics = stream_topics(app_id=settings.worker_app_id, topic_prefix=settings.kafka_topic_prefix)
    asyncio.run(ensure_topics(settings.kafka_bootstrap_servers, topics))
    app = build_stream_app(
        app_id=settings.worker_app_id,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic_prefix=settings.kafka_topic_prefix,
        database_url=settings.database_url,
        max_notice_age=timedelta(hours=settings.max_notice_age_hours),
        default_preferences=settings.default_preferences(),
    )
    sys.argv = [sys.argv[0]]
    faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
