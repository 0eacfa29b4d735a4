"""Settings every service reads from its environment (twelve-factor), validated at start-up."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Common settings; a service subclasses it with its own `env_prefix` (e.g. ``GRADEBOOK_``).

    The Kafka address is shared by all services, so it is also read without the prefix.
    """

    model_config = SettingsConfigDict(env_prefix="DIARY_", extra="ignore", populate_by_name=True)

    service_name: str = "diary"
    database_url: str = Field(
        "postgresql://diary:diary@127.0.0.1:15432/diary",
        description="asyncpg DSN of the service's own database.",
    )
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:19092",
        validation_alias=AliasChoices("DIARY_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_topic_prefix: str = Field(
        "",
        validation_alias=AliasChoices("DIARY_KAFKA_TOPIC_PREFIX", "KAFKA_TOPIC_PREFIX"),
        description="Namespace for every topic and consumer group (shared clusters, tests).",
    )
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    log_level: str = "INFO"
    run_relay: bool = True
    run_projectors: bool = True
    db_pool_size: int = 10
