"""Kafka and PostgreSQL together: what `diary-infra up/down/status` and the tests start."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from diary_devinfra import _process
from diary_devinfra.errors import InfraError
from diary_devinfra.kafka import KafkaServer
from diary_devinfra.postgres import PostgresServer
from diary_devinfra.settings import InfraSettings

T = TypeVar("T")


class LocalInfra:
    """Both local servers sharing one state dir (and so one logs/ dir)."""

    def __init__(self, kafka: KafkaServer, postgres: PostgresServer) -> None:
        self.kafka = kafka
        self.postgres = postgres

    @classmethod
    def from_settings(cls, settings: InfraSettings, *, throwaway: bool = False) -> LocalInfra:
        return cls(
            KafkaServer(settings.state_dir, settings.kafka_port, settings.kafka_controller_port),
            PostgresServer(settings.state_dir, settings.pg_port, throwaway=throwaway),
        )

    @classmethod
    def from_env(cls, repo_root: Path | None = None) -> LocalInfra:
        """Servers configured by DIARY_STATE_DIR / DIARY_*_PORT (see settings)."""
        return cls.from_settings(InfraSettings.from_env(repo_root))

    @property
    def log_dir(self) -> Path:
        return self.kafka.log_dir

    def up(self, databases: Iterable[str] = (), timeout: float = 90.0) -> list[str]:
        """Start both (in parallel: the JVM start dominates), then create missing databases.

        Returns the databases that were created.
        """
        _both(lambda: self.kafka.start(timeout), lambda: self.postgres.start(timeout))
        return _process.run_sync(self.postgres.ensure_databases(databases))

    def down(self) -> None:
        """Stop both; data stays for the next `up`."""
        _both(self.kafka.stop, self.postgres.stop)

    def destroy(self) -> None:
        """Stop both and delete their data (throwaway test instances)."""
        _both(self.kafka.destroy, self.postgres.destroy)

    def status(self) -> dict[str, dict[str, object]]:
        kafka, postgres = _both(self.kafka.status, self.postgres.status)
        return {"kafka": kafka, "postgres": postgres}


def _both(first: Callable[[], T], second: Callable[[], T]) -> tuple[T, T]:
    """Run two calls concurrently; raise after both finished, naming every failure."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="diary-infra") as pool:
        futures = [pool.submit(first), pool.submit(second)]
        errors = [exc for exc in (future.exception() for future in futures) if exc]
    if len(errors) > 1:
        raise InfraError("\n".join(str(exc) for exc in errors)) from errors[0]
    if errors:
        raise errors[0]
    return futures[0].result(), futures[1].result()
