"""`diary-infra`: start, stop and inspect the local Kafka and PostgreSQL (make run / make stop)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from diary_devinfra import _process
from diary_devinfra.errors import InfraError
from diary_devinfra.local import LocalInfra

EXIT_NOT_RUNNING = 3  # like `systemctl status` / LSB: "program is not running"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diary-infra",
        description="Real Kafka (KRaft) and PostgreSQL as local processes for development.",
        epilog="Environment: DIARY_STATE_DIR (default <repo>/.local/infra), DIARY_KAFKA_PORT "
        "(19092), DIARY_KAFKA_CONTROLLER_PORT (19093), DIARY_PG_PORT (15432).",
    )
    parser.add_argument("--repo-root", type=Path, help="repository root (default: from cwd)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start both servers (idempotent), create databases")
    up.add_argument("--databases", default="", help="comma-separated databases to create if missing")
    up.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for health")
    down = commands.add_parser("down", help="stop both servers (data is kept)")
    down.add_argument("--purge", action="store_true", help="also delete their data (a fresh start next time)")
    status = commands.add_parser("status", help="exit 0 when both answer, 3 otherwise")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    logs = commands.add_parser("logs", help="print the tail of both servers' logs")
    logs.add_argument("-n", "--lines", type=int, default=40)
    return parser


def _state(service: dict[str, object]) -> str:
    if service["healthy"]:
        return "up"
    return "running, not answering" if service["running"] else "down"


def _print_status(infra: LocalInfra, report: dict[str, dict[str, object]]) -> None:
    kafka, postgres = report["kafka"], report["postgres"]
    for name, service, where in (
        ("kafka", kafka, kafka["bootstrap_servers"]),
        ("postgres", postgres, postgres["admin_dsn"]),
    ):
        state = _state(service)
        pid = f"  (pid {service['pid']})" if service["pid"] else ""
        print(f"{name:<9} {state:<5} {where}{pid}")
    print(f"{'data':<9} {kafka['data_dir']}")
    print(f"{'':<9} {postgres['data_dir']}")
    print(f"{'logs':<9} {infra.log_dir}")


def _up(infra: LocalInfra, databases: list[str], timeout: float) -> int:
    started = time.monotonic()
    created = infra.up(databases, timeout)
    print(f"{'kafka':<9} up    {infra.kafka.bootstrap_servers}")
    print(f"{'postgres':<9} up    {infra.postgres.admin_dsn}")
    for name in databases:
        note = "created" if name in created else "exists"
        print(f"{'database':<9} {name}  {infra.postgres.dsn(name)}  ({note})")
    print(f"{'logs':<9} {infra.log_dir}")
    print(f"ready in {time.monotonic() - started:.1f}s")
    return 0


def _logs(infra: LocalInfra, lines: int) -> int:
    for path in (infra.kafka.log_file, infra.kafka.stdout_file, infra.postgres.log_file):
        text = _process.tail(path, lines)
        if text:
            print(f"==> {path} <==\n{text}\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `diary-infra` and `python -m diary_devinfra`; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="diary-infra: %(message)s",
    )
    # The readiness probe retries on purpose; the client's own connection errors are noise.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        infra = LocalInfra.from_env(args.repo_root)
        if args.command == "up":
            databases = [name.strip() for name in args.databases.split(",") if name.strip()]
            return _up(infra, databases, args.timeout)
        if args.command == "down":
            if args.purge:
                infra.destroy()
                print("kafka and postgres stopped, their data deleted")
            else:
                infra.down()
                print("kafka and postgres stopped")
            return 0
        if args.command == "status":
            report = infra.status()
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                _print_status(infra, report)
            healthy = all(service["healthy"] for service in report.values())
            return 0 if healthy else EXIT_NOT_RUNNING
        return _logs(infra, args.lines)
    except InfraError as exc:
        print(f"diary-infra: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
