"""pytest fixtures backed by real Kafka and PostgreSQL (never mocks, never skips).

Enable with `pytest_plugins = ["diary_devinfra.pytest_plugin"]` or `-p diary_devinfra.pytest_plugin`.
Servers are found once per session, in this order:

1. DIARY_TEST_KAFKA_BOOTSTRAP / DIARY_TEST_POSTGRES_DSN (an admin DSN allowed to CREATE DATABASE);
2. testcontainers (apache/kafka in KRaft mode, postgres:15) when a Docker engine answers;
3. local processes (diary_devinfra.kafka / .postgres) in a temporary state dir on free ports,
   deleted at the end of the session.

When none works the `infra` fixture raises, so the tests that need it error out: a missing
server must be visible, not a silent skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from diary_devinfra import _process
from diary_devinfra.errors import InfraError
from diary_devinfra.kafka import KAFKA_VERSION, KafkaServer, wait_for_kafka
from diary_devinfra.local import LocalInfra
from diary_devinfra.oidc_provider import OidcAccount, OidcProvider
from diary_devinfra.oidc_provider import login as oidc_login
from diary_devinfra.postgres import (
    PostgresServer,
    create_database,
    drop_database,
    dsn_with_database,
    wait_for_postgres,
)
from diary_devinfra.smtp_sink import SmtpSink

log = logging.getLogger(__name__)

ENV_TEST_KAFKA = "DIARY_TEST_KAFKA_BOOTSTRAP"
ENV_TEST_POSTGRES = "DIARY_TEST_POSTGRES_DSN"
ENV_TEST_SERVER_WAIT = "DIARY_TEST_SERVER_WAIT"
"""Seconds to wait for the servers named by the variables above (default 60)."""
KAFKA_IMAGE = f"apache/kafka:{KAFKA_VERSION}"
POSTGRES_IMAGE = "postgres:15"
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class Infra:
    """Where the session's servers are."""

    kafka_bootstrap: str
    postgres_admin_dsn: str

    def dsn_for(self, database: str) -> str:
        """DSN of database on the session's PostgreSQL, with the admin credentials."""
        return dsn_with_database(self.postgres_admin_dsn, database)


class TopicFactory(Protocol):
    """`await topic_factory("grades")` creates a uniquely named topic and returns its name."""

    async def __call__(
        self, base_name: str, partitions: int = 3, config: dict[str, str] | None = None
    ) -> str: ...


# -- providers -----------------------------------------------------------------------------


def _docker_answers() -> bool:
    """Ping the Docker engine quickly; anything going wrong means 'no Docker'."""
    try:
        docker = importlib.import_module("docker")
        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _kafka_container(stack: contextlib.ExitStack) -> str:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.docker_client import DockerClient

    # Clients must reach the advertised address, which has to be known before the start:
    # publish the same free port on both sides instead of a random mapping.
    (port,) = _process.free_ports(1)
    host = DockerClient().host()
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(port, port)
    for key, value in {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": f"PLAINTEXT://0.0.0.0:{port},CONTROLLER://localhost:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{port}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_NUM_PARTITIONS": "3",
    }.items():
        container.with_env(key, value)
    container.start()
    stack.callback(container.stop)
    bootstrap = f"{host}:{port}"
    wait_for_kafka(bootstrap, START_TIMEOUT)
    return bootstrap


def _postgres_container(stack: contextlib.ExitStack) -> str:
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer(
        POSTGRES_IMAGE, username="diary", password="diary", dbname="postgres", driver=None
    )
    container.start()
    stack.callback(container.stop)
    dsn = str(container.get_connection_url())
    wait_for_postgres(dsn, START_TIMEOUT)
    return dsn


def _local_servers(stack: contextlib.ExitStack, *, kafka: bool, postgres: bool) -> tuple[str, str]:
    """Start the wanted local servers in a fresh temporary state dir; clean up at exit."""
    state = Path(tempfile.mkdtemp(prefix="diary-test-infra-"))
    stack.callback(shutil.rmtree, state, True)
    # mkdtemp makes it 0700; the postgres system user (when we are root) must get in, or
    # the cluster would go to the /var/tmp fallback.
    state.chmod(0o755)
    kafka_port, controller_port, pg_port = _process.free_ports(3)
    servers = LocalInfra(
        KafkaServer(state, kafka_port, controller_port),
        PostgresServer(state, pg_port, throwaway=True),
    )
    stack.callback(servers.destroy)
    started = time.monotonic()
    if kafka and postgres:
        servers.up(timeout=START_TIMEOUT)
    elif kafka:
        servers.kafka.start(START_TIMEOUT)
    else:
        servers.postgres.start(START_TIMEOUT)
    log.info("local test servers up in %.1fs (state %s)", time.monotonic() - started, state)
    return servers.kafka.bootstrap_servers, servers.postgres.admin_dsn


def _provision(stack: contextlib.ExitStack) -> Infra:
    """Find or start the session's servers, preferring explicit ones (see module doc)."""
    kafka = os.environ.get(ENV_TEST_KAFKA, "").strip() or None
    postgres = os.environ.get(ENV_TEST_POSTGRES, "").strip() or None
    for variable, value, wait in (
        (ENV_TEST_KAFKA, kafka, wait_for_kafka),
        (ENV_TEST_POSTGRES, postgres, wait_for_postgres),
    ):
        if value:
            try:
                wait(value, float(os.environ.get(ENV_TEST_SERVER_WAIT, "60")))
            except InfraError as exc:
                raise InfraError(f"the server named by {variable}: {exc}") from None
    if kafka and postgres:
        return Infra(kafka, postgres)

    failures: list[str] = []
    if _docker_answers():
        try:
            with contextlib.ExitStack() as attempt:
                kafka = kafka or _kafka_container(attempt)
                postgres = postgres or _postgres_container(attempt)
                stack.push(attempt.pop_all())
            return Infra(kafka, postgres)
        except Exception as exc:
            failures.append(f"testcontainers: {type(exc).__name__}: {exc}")
    else:
        failures.append("testcontainers: no Docker engine answered")
    try:
        local_kafka, local_postgres = _local_servers(stack, kafka=kafka is None, postgres=postgres is None)
    except Exception as exc:
        failures.append(f"local processes: {type(exc).__name__}: {exc}")
        raise InfraError(
            "no Kafka/PostgreSQL for the tests. Tried, in order:\n  " + "\n  ".join(failures)
        ) from exc
    return Infra(kafka or local_kafka, postgres or local_postgres)


# -- fixtures ------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "infra: needs the real Kafka and PostgreSQL servers (never skipped: fails without)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests using the servers `infra`, so `-m "not infra"` gives a quick run."""
    for item in items:
        if "infra" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.infra)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """The session's Kafka and PostgreSQL, started once and stopped at the end."""
    with contextlib.ExitStack() as stack:
        yield _provision(stack)


@pytest.fixture(scope="session")
def kafka_bootstrap(infra: Infra) -> str:
    """bootstrap_servers of the session's Kafka."""
    return infra.kafka_bootstrap


class DatabaseFactory(Protocol):
    """`await database_factory()` creates one more fresh database (dropped after the test)."""

    async def __call__(self) -> str: ...


@pytest_asyncio.fixture
async def database_factory(infra: Infra) -> AsyncIterator[DatabaseFactory]:
    """Fresh databases for tests that run several services, each with a database of its own."""
    created: list[str] = []

    async def create() -> str:
        name = f"t_{uuid.uuid4().hex}"
        await create_database(infra.postgres_admin_dsn, name)
        created.append(name)
        return infra.dsn_for(name)

    try:
        yield create
    finally:
        for name in created:
            await drop_database(infra.postgres_admin_dsn, name)


@pytest_asyncio.fixture
async def postgres_dsn(infra: Infra) -> AsyncIterator[str]:
    """A fresh database for this test only (dropped afterwards), as a DSN."""
    name = f"t_{uuid.uuid4().hex}"
    await create_database(infra.postgres_admin_dsn, name)
    try:
        yield infra.dsn_for(name)
    finally:
        await drop_database(infra.postgres_admin_dsn, name)


async def _wait_for_leaders(admin: AIOKafkaAdminClient, topic: str, timeout: float) -> None:
    # Creation returns once the controller committed it; producers want partition leaders.
    deadline = time.monotonic() + timeout
    while True:
        (described,) = await admin.describe_topics([topic])
        partitions = described.get("partitions") or []
        if (
            described.get("error_code") == 0
            and partitions
            and all(part.get("leader", -1) >= 0 for part in partitions)
        ):
            return
        if time.monotonic() >= deadline:
            raise InfraError(f"topic {topic} has no partition leaders after {timeout:.0f}s")
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture
async def topic_factory(kafka_bootstrap: str) -> AsyncIterator[TopicFactory]:
    """Create uniquely suffixed topics (`<base>-<hex>`) for this test; delete them after."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="diary-tests")
    await admin.start()
    created: list[str] = []

    async def create(base_name: str, partitions: int = 3, config: dict[str, str] | None = None) -> str:
        name = f"{base_name}-{uuid.uuid4().hex[:12]}"
        response = await admin.create_topics(
            [NewTopic(name, partitions, 1, topic_configs=dict(config or {}))]
        )
        for result in response.to_object().get("topic_errors", []):
            if result.get("error_code"):
                raise InfraError(
                    f"creating topic {name}: error {result['error_code']} "
                    f"{result.get('error_message') or ''}".rstrip()
                )
        created.append(name)
        await _wait_for_leaders(admin, name, 30.0)
        return name

    try:
        yield create
    finally:
        try:
            if created:
                await admin.delete_topics(created)
        except Exception as exc:  # best effort: the topics die with the test servers anyway
            log.warning("could not delete test topics %s: %s", created, exc)
        finally:
            await admin.close()


# -- mail and sign-in (SMTP sink, ESIA stand-in) ------------------------------------------


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server on a free port for the session; `.mailbox` reads what it received.

    Shared by every test: note `len(smtp_sink.mailbox.to(addr))` before acting and pass it as
    `after=` to `wait_for`; `fail_next(n)` makes the next n deliveries fail with 451.
    """
    state = Path(tempfile.mkdtemp(prefix="diary-test-smtp-"))
    (port,) = _process.free_ports(1)
    sink = SmtpSink(state / "mail", port)
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
        shutil.rmtree(state, ignore_errors=True)


OIDC_TEST_CLIENT_ID = "diary-identity"
OIDC_TEST_REDIRECT_URI = "http://identity.test/federated/esia/callback"
"""The identity service's tests configure this redirect URI; nobody follows it, they read
code and state from it (`oidc_provider.login` returns it)."""


@dataclass(frozen=True)
class OidcTestProvider:
    """The session's ESIA stand-in and the confidential client registered at it."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    accounts: tuple[OidcAccount, ...]

    def account(self, login: str) -> OidcAccount:
        """The demo account with this login (e.g. "ivanova.parent@example.org")."""
        for account in self.accounts:
            if account.login == login:
                return account
        raise KeyError(f"no demo ESIA account {login!r}; there are {[a.login for a in self.accounts]}")

    async def login(
        self, client: httpx.AsyncClient, authorization_url: str, login: str, password: str
    ) -> str:
        """Play the user's browser: sign in, return the redirect to redirect_uri (code, state)."""
        return await oidc_login(client, authorization_url, login, password)


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcTestProvider]:
    """A local OpenID Connect provider configured like ESIA, on a free port for the session."""
    state = Path(tempfile.mkdtemp(prefix="diary-test-oidc-"))
    (port,) = _process.free_ports(1)
    provider = OidcProvider(
        state,
        port,
        client_id=OIDC_TEST_CLIENT_ID,
        client_secret=secrets.token_urlsafe(24),
        redirect_uris=[OIDC_TEST_REDIRECT_URI],
    )
    started = time.monotonic()
    try:
        provider.start(START_TIMEOUT)
        log.info("OIDC provider up in %.1fs at %s", time.monotonic() - started, provider.issuer)
        yield OidcTestProvider(
            issuer=provider.issuer,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            redirect_uri=OIDC_TEST_REDIRECT_URI,
            accounts=tuple(provider.accounts),
        )
    finally:
        provider.stop()
        shutil.rmtree(state, ignore_errors=True)


# -- web pages (headless Chromium) ---------------------------------------------------------

# Imported here to keep this section in one place; both modules are light to import.
from playwright.async_api import Browser  # noqa: E402

from diary_devinfra.browser import launch_chromium  # noqa: E402


@pytest.hookimpl(specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_browser(items: list[pytest.Item]) -> None:
    """Tests driving a real browser are real-infrastructure tests too: mark them `infra`."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.infra)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium (Debian's, installed when missing) for the session, via Playwright.

    Never skipped: without a browser the tests that need it error out. Open a fresh context per
    test, e.g. `async with diary_devinfra.browser.new_page(browser, base_url=url) as page:`.
    """
    async with launch_chromium() as started:
        yield started
