"""A real single-node Apache Kafka (KRaft: broker and controller in one JVM) as a local process.

There is no Docker engine on the project's machines, and Kafka has no Debian package, so the
broker's jars come from the Maven repository (deploy/local/kafka/pom.xml) into a per-user
cache, and the JVM is started directly. State (config, data, pid file) lives in
<state dir>/kafka, logs in <state dir>/logs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from diary_devinfra import _process
from diary_devinfra.errors import InfraError, PortInUseError
from diary_devinfra.settings import (
    DEFAULT_KAFKA_CONTROLLER_PORT,
    DEFAULT_KAFKA_PORT,
    ENV_KAFKA_CONTROLLER_PORT,
    ENV_KAFKA_PORT,
    KAFKA_POM,
    default_cache_dir,
    find_repo_root,
    package_repo_root,
)

log = logging.getLogger(__name__)

# Must match <kafka.version> in deploy/local/kafka/pom.xml; the cache is keyed by it.
KAFKA_VERSION = "4.1.1"

# Modest heap: the machines have 2 cores and the tests run next to the broker.
JVM_OPTIONS = ("-Xmx512m", "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true")


def new_cluster_id() -> str:
    """Make a KRaft cluster id like Kafka's Uuid.randomUuid: 16 random bytes, url-safe base64."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):  # Kafka avoids ids that look like a command-line flag
            return text


async def kafka_metadata(bootstrap_servers: str, timeout: float = 5.0) -> dict[str, Any]:
    """Ask the cluster for its metadata: the proof that a broker really answers."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=max(1000, int(timeout * 1000)),
        client_id="diary-devinfra-probe",
    )
    try:
        async with asyncio.timeout(timeout):
            await admin.start()
            cluster: dict[str, Any] = await admin.describe_cluster()
    finally:
        await admin.close()
    if not cluster.get("brokers"):
        raise InfraError(f"Kafka at {bootstrap_servers} answered but lists no broker yet")
    return cluster


def wait_for_kafka(
    bootstrap_servers: str, timeout: float, *, alive: Callable[[], bool] | None = None
) -> None:
    """Block until a metadata round trip succeeds; alive() lets a dead process fail fast."""
    host, _, port = bootstrap_servers.split(",")[0].rpartition(":")
    deadline = time.monotonic() + timeout
    last_error = "the port is not open"
    while True:
        if alive is not None and not alive():
            raise InfraError(f"Kafka exited before it answered on {bootstrap_servers}")
        if _process.tcp_open(int(port), host):
            try:
                _process.run_sync(kafka_metadata(bootstrap_servers, timeout=5.0))
                return
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise InfraError(
                f"Kafka at {bootstrap_servers} did not answer within {timeout:.0f}s ({last_error})"
            )
        time.sleep(0.25)


class KafkaServer:
    """One KRaft Kafka node on 127.0.0.1, managed through a pid file in its state dir."""

    def __init__(
        self,
        state_dir: Path,
        port: int = DEFAULT_KAFKA_PORT,
        controller_port: int = DEFAULT_KAFKA_CONTROLLER_PORT,
        *,
        cache_dir: Path | None = None,
        pom: Path | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.controller_port = controller_port
        self.cache_dir = cache_dir or default_cache_dir()
        self._pom = pom
        self.home = self.state_dir / "kafka"
        self.data_dir = self.home / "data"
        self.properties_file = self.home / "server.properties"
        self.log4j_file = self.home / "log4j2.properties"
        self.pid_file = self.home / "kafka.pid"
        self.log_dir = self.state_dir / "logs"
        self.log_file = self.log_dir / "kafka.log"
        self.stdout_file = self.log_dir / "kafka.out"
        self.artifacts_dir = self.cache_dir / f"kafka-{KAFKA_VERSION}"

    @property
    def bootstrap_servers(self) -> str:
        """Where clients connect: the PLAINTEXT listener."""
        return f"{_process.LOCALHOST}:{self.port}"

    # -- artifacts -----------------------------------------------------------------------

    def _find_pom(self) -> Path | None:
        if self._pom is not None:
            return self._pom
        for root in (find_repo_root(), package_repo_root()):
            if root is not None and (root / KAFKA_POM).is_file():
                return root / KAFKA_POM
        return None

    def ensure_artifacts(self) -> Path:
        """Fetch Kafka's jars with Maven into the cache (once per machine); return the libs dir.

        A marker holding the pom's hash is written only after a complete download, so an
        interrupted fetch or an edited pom triggers a fresh one.
        """
        libs = self.artifacts_dir / "libs"
        marker = self.artifacts_dir / "complete"
        pom = self._find_pom()
        wanted = hashlib.sha256(pom.read_bytes()).hexdigest() if pom else None

        def cached() -> bool:
            if not (marker.is_file() and libs.is_dir()):
                return False
            return wanted is None or marker.read_text().strip() == wanted

        if cached():
            return libs
        if pom is None:
            raise InfraError(
                f"Kafka jars are not in {libs} and {KAFKA_POM} cannot be found; "
                "run from the repository checkout"
            )
        if f"<kafka.version>{KAFKA_VERSION}</kafka.version>" not in pom.read_text():
            raise InfraError(f"{pom} does not pin Kafka {KAFKA_VERSION}; update both together")
        mvn = shutil.which("mvn")
        if mvn is None:
            _process.apt_install(["maven"], "Maven is needed to fetch Kafka's jars")
            mvn = shutil.which("mvn") or "mvn"
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        with _process.file_lock(self.artifacts_dir / "lock"):
            if cached():  # another process fetched them while we waited for the lock
                return libs
            staging = self.artifacts_dir / f"libs.partial-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            mvn_log = self.artifacts_dir / "mvn.log"
            started = time.monotonic()
            log.info("fetching Kafka %s jars with Maven into %s", KAFKA_VERSION, libs)
            with mvn_log.open("w") as out:
                done = subprocess.run(
                    [
                        mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(pom),
                        "dependency:copy-dependencies", f"-DoutputDirectory={staging}",
                        "-DincludeScope=runtime",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                )  # fmt: skip
            if done.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
                shutil.rmtree(staging, ignore_errors=True)
                raise InfraError(
                    f"Maven could not fetch Kafka {KAFKA_VERSION} (exit {done.returncode}); "
                    f"see {mvn_log}:\n{_process.tail(mvn_log, 20)}"
                )
            shutil.rmtree(libs, ignore_errors=True)
            staging.rename(libs)
            marker.write_text(f"{wanted}\n")
            log.info("Kafka jars fetched in %.1fs", time.monotonic() - started)
        return libs

    # -- configuration -------------------------------------------------------------------

    def _server_properties(self) -> str:
        # A dev/test broker: one replica of everything, no auto-created topics (the services
        # create theirs explicitly, as in production), 3 partitions unless told otherwise.
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{_process.LOCALHOST}:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://{_process.LOCALHOST}:{self.port},"
                f"CONTROLLER://{_process.LOCALHOST}:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{_process.LOCALHOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Fewer threads than the defaults (3 network, 8 io): the machines have 2 cores.
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        body = "".join(f"{key}={value}\n" for key, value in lines.items())
        return "# Written by diary_devinfra.kafka on every start; edits are lost.\n" + body

    def _log4j_properties(self) -> str:
        # Kafka 4 logs through log4j2 and ships no default config on this classpath.
        return (
            "# Written by diary_devinfra.kafka on every start; edits are lost.\n"
            "status = warn\n"
            "appender.file.type = RollingFile\n"
            "appender.file.name = file\n"
            f"appender.file.fileName = {self.log_file}\n"
            f"appender.file.filePattern = {self.log_file}.%i\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "appender.file.policies.type = Policies\n"
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy\n"
            "appender.file.policies.size.size = 50MB\n"
            "appender.file.strategy.type = DefaultRolloverStrategy\n"
            "appender.file.strategy.max = 3\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = file\n"
            "logger.request.name = kafka.request.logger\n"
            "logger.request.level = WARN\n"
        )

    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").exists():
            return str(Path(java_home) / "bin" / "java")
        java = shutil.which("java")
        if java is None:
            _process.apt_install(["openjdk-17-jre-headless"], "Java is needed to run Kafka")
            java = shutil.which("java") or "java"
        return java

    # -- process -------------------------------------------------------------------------

    def _is_ours(self, pid: int) -> bool:
        cmdline = _process.process_cmdline(pid)
        return "kafka.Kafka" in cmdline and str(self.properties_file) in cmdline

    def pid(self) -> int | None:
        """Return the pid of our running Kafka, dropping a stale pid file."""
        pid = _process.read_pid_file(self.pid_file)
        if pid is not None and _process.pid_alive(pid) and self._is_ours(pid):
            return pid
        if pid is not None or self.pid_file.exists():
            log.info("removing stale Kafka pid file %s", self.pid_file)
            self.pid_file.unlink(missing_ok=True)
        # A broker of ours whose pid file was lost still holds its port: adopt it.
        holder = _process.port_holder(self.port)
        if holder is not None and self._is_ours(holder[0]):
            self.pid_file.write_text(f"{holder[0]}\n")
            return holder[0]
        return None

    def _check_ports(self) -> None:
        for port, env_var in (
            (self.port, ENV_KAFKA_PORT),
            (self.controller_port, ENV_KAFKA_CONTROLLER_PORT),
        ):
            if not _process.port_is_free(port):
                raise PortInUseError(port, "Kafka", env_var, _process.describe_port_holder(port))

    def _format_storage(self, libs: Path) -> None:
        cluster_id = new_cluster_id()
        done = subprocess.run(
            [
                self._java(), "-cp", f"{libs}/*", f"-Dlog4j2.configurationFile={self.log4j_file}",
                "kafka.tools.StorageTool", "format", "-t", cluster_id,
                "-c", str(self.properties_file),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise InfraError(
                f"formatting Kafka storage in {self.data_dir} failed:\n"
                f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        log.info("formatted Kafka storage %s (cluster id %s)", self.data_dir, cluster_id)

    def start(self, timeout: float = 90.0) -> None:
        """Start Kafka unless it already runs, and wait until it answers metadata requests.

        Storage is formatted only on the first start; a change of ports restarts the broker.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with _process.file_lock(self.state_dir / ".kafka.lock"):
            self._start(timeout)

    def _start(self, timeout: float) -> None:
        if self.port == self.controller_port:
            raise InfraError(
                f"Kafka's client and controller ports are both {self.port}; set "
                f"{ENV_KAFKA_PORT} and {ENV_KAFKA_CONTROLLER_PORT} to different ports"
            )
        properties = self._server_properties()
        pid = self.pid()
        if pid is not None:
            if self.properties_file.read_text() == properties:
                self.wait_healthy(timeout)
                return
            log.info("Kafka configuration changed (ports?); restarting pid %s", pid)
            self._stop(30.0)
        self._check_ports()
        libs = self.ensure_artifacts()
        for directory in (self.home, self.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(properties)
        self.log4j_file.write_text(self._log4j_properties())
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage(libs)
        argv = [
            self._java(), *JVM_OPTIONS, "-cp", f"{libs}/*",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "kafka.Kafka", str(self.properties_file),
        ]  # fmt: skip
        with self.stdout_file.open("a") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting Kafka\n")
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        pid = _process.spawn_detached(argv, log=self.stdout_file, cwd=self.home)
        self.pid_file.write_text(f"{pid}\n")
        log.info("started Kafka pid %s on %s", pid, self.bootstrap_servers)
        try:
            wait_for_kafka(self.bootstrap_servers, timeout, alive=lambda: _process.pid_alive(pid))
        except InfraError as exc:
            self._stop(10.0)
            raise InfraError(f"{exc}; {self._startup_errors(log_offset)}") from None

    def _startup_errors(self, log_offset: int) -> str:
        """Pick the ERROR lines this start wrote (a stack trace's tail says little)."""
        try:
            with self.log_file.open("rb") as handle:
                handle.seek(log_offset)
                lines = handle.read().decode(errors="replace").splitlines()
        except OSError:
            lines = []
        errors: list[str] = []
        for index, line in enumerate(lines):
            if ("] ERROR " in line or "] FATAL " in line) and len(errors) < 10:
                errors.append(line)
                # The exception's message is on the next line, before the stack trace.
                following = lines[index + 1] if index + 1 < len(lines) else ""
                if following and not following.startswith("["):
                    errors.append(following)
        report = "\n".join(errors) or _process.tail(self.log_file, 15)
        jvm = [
            line for line in _process.tail(self.stdout_file, 20).splitlines() if not line.startswith("--- ")
        ]
        return f"from {self.log_file}:\n{report}" + "".join(f"\n{line}" for line in jvm)

    def wait_healthy(self, timeout: float = 90.0) -> None:
        """Block until the broker answers a metadata request (TCP alone is not 'up')."""
        pid = self.pid()
        if pid is None:
            raise InfraError(f"Kafka is not running (no live process in {self.pid_file})")
        wait_for_kafka(self.bootstrap_servers, timeout, alive=lambda: _process.pid_alive(pid))

    def is_healthy(self, timeout: float = 5.0) -> bool:
        """Tell whether our broker runs and answers within timeout."""
        if self.pid() is None or not _process.tcp_open(self.port):
            return False
        try:
            _process.run_sync(kafka_metadata(self.bootstrap_servers, timeout))
        except Exception:
            return False
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker: SIGTERM (controlled shutdown), SIGKILL after timeout. Idempotent."""
        if not self.state_dir.is_dir():
            return
        with _process.file_lock(self.state_dir / ".kafka.lock"):
            self._stop(timeout)

    def _stop(self, timeout: float) -> None:
        pid = self.pid()
        if pid is not None:
            log.info("stopping Kafka pid %s", pid)
            _process.terminate(pid, timeout)
        self.pid_file.unlink(missing_ok=True)

    def destroy(self) -> None:
        """Stop the broker and delete its data and config (throwaway test instances)."""
        self.stop(timeout=10.0)
        shutil.rmtree(self.home, ignore_errors=True)

    def status(self) -> dict[str, object]:
        """Describe the broker for `diary-infra status` (JSON-serialisable).

        Ports are those of the running broker, which may differ from this object's when the
        environment changed since it was started.
        """
        pid = self.pid()
        port, controller_port = self.port, self.controller_port
        if pid is not None:
            running = read_properties(self.properties_file)
            port = _listener_port(running.get("listeners", ""), "PLAINTEXT") or port
            controller_port = _listener_port(running.get("listeners", ""), "CONTROLLER") or controller_port
        bootstrap = f"{_process.LOCALHOST}:{port}"
        healthy = False
        if pid is not None and _process.tcp_open(port):
            try:
                _process.run_sync(kafka_metadata(bootstrap))
                healthy = True
            except Exception:
                healthy = False
        return {
            "service": "kafka",
            "version": KAFKA_VERSION,
            "running": pid is not None,
            "healthy": healthy,
            "pid": pid,
            "cluster_id": read_properties(self.data_dir / "meta.properties").get("cluster.id"),
            "bootstrap_servers": bootstrap,
            "port": port,
            "controller_port": controller_port,
            "data_dir": str(self.data_dir),
            "log": str(self.log_file),
            "artifacts": str(self.artifacts_dir / "libs"),
        }


_PROPERTY = re.compile(r"^\s*([\w.]+)\s*=\s*(.*?)\s*$")


def read_properties(path: Path) -> dict[str, str]:
    """Parse a simple Java properties file (no continuations), e.g. meta.properties."""
    found: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            match = _PROPERTY.match(line)
            if match and not line.lstrip().startswith("#"):
                found[match.group(1)] = match.group(2)
    return found


def _listener_port(listeners: str, name: str) -> int | None:
    """Extract the port of listener name from a `listeners` value."""
    for listener in listeners.split(","):
        if listener.strip().startswith(f"{name}://"):
            with contextlib.suppress(ValueError):
                return int(listener.rpartition(":")[2])
    return None
