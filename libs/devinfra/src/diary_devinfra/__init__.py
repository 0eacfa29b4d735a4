"""Real Kafka (KRaft) and PostgreSQL for development and tests, without Docker.

`diary-infra up` starts both as local processes for `make run`; the pytest plugin
(`pytest_plugins = ["diary_devinfra.pytest_plugin"]`) gives tests the same servers, or
servers named by DIARY_TEST_* variables, or testcontainers when a Docker engine answers.
"""

from diary_devinfra.errors import InfraError, PortInUseError
from diary_devinfra.kafka import KafkaServer
from diary_devinfra.local import LocalInfra
from diary_devinfra.postgres import PostgresServer
from diary_devinfra.settings import InfraSettings

__all__ = [
    "InfraError",
    "InfraSettings",
    "KafkaServer",
    "LocalInfra",
    "PortInUseError",
    "PostgresServer",
]
