"""`make run`: the whole platform on one machine without Docker, and `make stop`.

Starts the local Kafka and PostgreSQL (see `LocalInfra`), then every service as a child process
with its settings in the environment (the same variables a Kubernetes Deployment sets), waits
until each answers /readyz, loads the demo data, prints where to look, and stops everything on
Ctrl-C. `stop` does the same from another shell through the pid files.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from diary_devinfra import _process
from diary_devinfra.local import LocalInfra


@dataclass(frozen=True)
class ServiceProcess:
    """One service as `make run` starts it."""

    name: str
    module: str
    port: int
    database: str
    env_prefix: str

    def environment(self, infra: LocalInfra) -> dict[str, str]:
        return {
            f"{self.env_prefix}DATABASE_URL": infra.postgres.dsn(self.database),
            f"{self.env_prefix}HTTP_PORT": str(self.port),
            "DIARY_KAFKA_BOOTSTRAP_SERVERS": infra.kafka.bootstrap_servers,
        }


SERVICES = [
    ServiceProcess("gradebook", "gradebook.entrypoints.cli", 8101, "gradebook", "GRADEBOOK_"),
]


def _run_dir(infra: LocalInfra) -> Path:
    path = infra.log_dir.parent / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _wait_ready(service: ServiceProcess, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{service.port}/readyz"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{service.name} exited with {process.returncode}; see its log")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.3)
    raise SystemExit(f"{service.name} did not become ready within {timeout:.0f} s")


def run() -> int:
    infra = LocalInfra.from_env()
    for service in SERVICES:
        if not _process.port_is_free(service.port):
            raise SystemExit(
                f"port {service.port} for {service.name} is already in use; `make stop` or free it"
            )
    print("starting Kafka and PostgreSQL ...", flush=True)
    infra.up(databases=[s.database for s in SERVICES])
    children: list[tuple[ServiceProcess, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop_all(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        print("\nstopping services, Kafka and PostgreSQL ...", flush=True)
        for _service, child in children:
            if child.poll() is None:
                child.terminate()
        for _service, child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        for service, _child in children:
            (_run_dir(infra) / f"{service.name}.pid").unlink(missing_ok=True)
        infra.down()
        runner_pid.unlink(missing_ok=True)

    signal.signal(signal.SIGTERM, _interrupt)
    runner_pid = _run_dir(infra) / "platform.pid"
    runner_pid.write_text(str(os.getpid()))
    try:
        for service in SERVICES:
            log = (infra.log_dir / f"{service.name}.log").open("ab")
            child = subprocess.Popen(
                [sys.executable, "-m", service.module, "serve"],
                env={**os.environ, **service.environment(infra)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            children.append((service, child))
            (_run_dir(infra) / f"{service.name}.pid").write_text(str(child.pid))
        for service, child in children:
            _wait_ready(service, child, timeout=90)
        print("loading demo data ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "gradebook.entrypoints.cli", "demo", "--url", "http://127.0.0.1:8101"],
            env={**os.environ, **SERVICES[0].environment(infra)},
            check=True,
        )
        _print_summary(infra)
        while all(child.poll() is None for _, child in children):
            time.sleep(0.5)
        print("a service stopped; see the logs above", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_all()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def stop() -> int:
    """Stop what a `run` in another shell started, then the servers."""
    infra = LocalInfra.from_env()
    runner_pid = _run_dir(infra) / "platform.pid"
    if runner_pid.exists():
        # The runner stops its services and the servers itself, and its `make run` exits 0.
        with contextlib.suppress(ValueError, ProcessLookupError):
            pid = int(runner_pid.read_text())
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 60
            while _process.pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
    for service in SERVICES:
        pid_file = _run_dir(infra) / f"{service.name}.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            pid_file.unlink(missing_ok=True)
    infra.down()
    print("stopped")
    return 0


def _print_summary(infra: LocalInfra) -> None:
    print(
        f"""
The diary platform is running (Ctrl-C or `make stop` stops everything).

  gradebook     http://127.0.0.1:8101/docs      (OpenAPI: /openapi.json, metrics: /metrics)
  Kafka         {infra.kafka.bootstrap_servers}
  PostgreSQL    {infra.postgres.dsn("gradebook")}
  logs          {infra.log_dir}

Read the demo pupil's diary (E = the education_id printed above):

  curl -s "http://127.0.0.1:8101/diary/$E/week?date={time.strftime("%Y-%m-%d")}"
  curl -s "http://127.0.0.1:8101/diary/$E/marks"
  curl -s "http://127.0.0.1:8101/diary/$E/teachers"

Journal commands (marks, attendance, homework) take the caller from X-Actor-* headers, as the
gateway will pass them: see services/gradebook/README.md and /docs.
""",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diary_devinfra.platform")
    parser.add_argument("command", choices=["run", "stop"])
    args = parser.parse_args(argv)
    return run() if args.command == "run" else stop()


if __name__ == "__main__":
    sys.exit(main())
