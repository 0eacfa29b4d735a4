"""`gateway serve` runs the gateway; `gateway rebuild` replays its access read model from the topics."""

from __future__ import annotations

import argparse

from diary_kernel import commands as service_commands
from diary_kernel.logs import configure_logging


def main(argv: list[str] | None = None) -> None:
    from gateway.bootstrap import GatewaySettings, build_app, definition

    parser = argparse.ArgumentParser(prog="gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="HTTP API, web page, access read model")
    rebuild = commands.add_parser("rebuild", help="replay the access read model from the topics")
    rebuild.add_argument("projection", nargs="?")
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    configure_logging(settings.service_name, settings.log_level)
    if args.command == "serve":
        service_commands.serve(build_app(settings), settings)
    else:
        service_commands.rebuild(definition(settings), settings, args.projection)


if __name__ == "__main__":
    main()
