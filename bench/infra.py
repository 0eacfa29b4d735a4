"""Servers for a benchmark run: the ones named by DIARY_BENCH_KAFKA_BOOTSTRAP and
DIARY_BENCH_POSTGRES_DSN, or throwaway local ones on free ports (the same as the tests')."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from diary_devinfra import _process
from diary_devinfra.local import LocalInfra
from diary_devinfra.settings import InfraSettings


@dataclass(frozen=True)
class BenchInfra:
    kafka_bootstrap: str
    postgres_admin_dsn: str
    description: str


@contextlib.contextmanager
def bench_infra() -> Iterator[BenchInfra]:
    kafka = os.environ.get("DIARY_BENCH_KAFKA_BOOTSTRAP")
    postgres = os.environ.get("DIARY_BENCH_POSTGRES_DSN")
    if kafka and postgres:
        yield BenchInfra(kafka, postgres, "servers named by DIARY_BENCH_* variables")
        return
    state = Path(tempfile.mkdtemp(prefix="diary-bench-"))
    state.chmod(0o755)  # so the postgres system user can reach its data directory
    kafka_port, controller_port, pg_port = _process.free_ports(3)
    # Not throwaway: durable PostgreSQL settings, as in production, so figures mean something.
    infra = LocalInfra.from_settings(InfraSettings(state, kafka_port, controller_port, pg_port))
    infra.up()
    try:
        yield BenchInfra(
            infra.kafka.bootstrap_servers,
            infra.postgres.admin_dsn,
            "local Kafka 4.1 (KRaft, 1 node) and PostgreSQL 15 started for this run",
        )
    finally:
        infra.destroy()
