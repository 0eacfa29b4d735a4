"""`make run`: the whole platform on one machine without Docker, and `make stop`.

Starts the local Kafka and PostgreSQL (see `LocalInfra`), then every service as a child process
with its settings in the environment (the same variables a Kubernetes Deployment sets), waits
until each answers /readyz, loads the demo data, prints where to look, and stops everything on
Ctrl-C. `stop` does the same from another shell through the pid files.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from diary_devinfra import _process
from diary_devinfra.local import LocalInfra

SMTP_PORT = 10025
ESIA_PORT = 9400
ESIA_CLIENT_ID = "diary-identity"


@dataclass(frozen=True)
class ServiceProcess:
    """One service as `make run` starts it."""

    name: str
    module: str
    port: int
    database: str
    env_prefix: str
    command: str = "serve"
    """`serve` for an HTTP service (port > 0, waited for on /readyz); `worker` for a stream worker."""

    def environment(self, infra: LocalInfra) -> dict[str, str]:
        env = {
            f"{self.env_prefix}DATABASE_URL": infra.postgres.dsn(self.database),
            f"{self.env_prefix}HTTP_PORT": str(self.port),
            "DIARY_KAFKA_BOOTSTRAP_SERVERS": infra.kafka.bootstrap_servers,
        }
        if self.name == "identity":
            env.update(_identity_environment(infra, self))
        identity_url = f"http://127.0.0.1:{_service('identity').port}"
        if self.name in ("applications", "gateway", "notifications"):
            env[f"{self.env_prefix}TOKEN_ISSUER"] = identity_url
            env[f"{self.env_prefix}JWKS_URL"] = f"{identity_url}/.well-known/jwks.json"
        if self.name == "gateway":
            for upstream in ("identity", "gradebook", "applications", "notifications"):
                env[f"GATEWAY_{upstream.upper()}_URL"] = f"http://127.0.0.1:{_service(upstream).port}"
            env["GATEWAY_PUBLIC_URL"] = GATEWAY_URL
        if self.env_prefix == "NOTIFICATIONS_":  # the API and the worker
            env["NOTIFICATIONS_PUBLIC_URL"] = GATEWAY_URL
            env["NOTIFICATIONS_SMTP_PORT"] = str(SMTP_PORT)
            env["NOTIFICATIONS_UNSUBSCRIBE_SECRET"] = _local_secret(
                infra, "notifications-unsubscribe-secret", lambda: secrets.token_urlsafe(32)
            )
        return env


SERVICES = [
    ServiceProcess("gradebook", "gradebook.entrypoints.cli", 8101, "gradebook", "GRADEBOOK_"),
    ServiceProcess("identity", "identity.entrypoints.cli", 8102, "identity", "IDENTITY_"),
    ServiceProcess("applications", "applications.entrypoints.cli", 8103, "applications", "APPLICATIONS_"),
    ServiceProcess("gateway", "gateway.entrypoints.cli", 8100, "gateway", "GATEWAY_"),
    ServiceProcess("notifications", "notifications.entrypoints.cli", 8104, "notifications", "NOTIFICATIONS_"),
    ServiceProcess(
        "notifications-worker",
        "notifications.entrypoints.cli",
        0,
        "notifications",
        "NOTIFICATIONS_",
        command="worker",
    ),
]
GATEWAY_URL = "http://127.0.0.1:8100"
"""Where parents open the web page; e-mailed links and ESIA's redirect lead there."""


def _service(name: str) -> ServiceProcess:
    return next(s for s in SERVICES if s.name == name)


def _local_secret(infra: LocalInfra, name: str, make: Callable[[], str]) -> str:
    """A development secret made once per state dir (kept next to the data it protects)."""
    path = infra.log_dir.parent / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _esia_secret(infra: LocalInfra) -> str:
    return _local_secret(infra, "esia-client-secret", lambda: secrets.token_urlsafe(24))


def mail_dir(infra: LocalInfra) -> Path:
    return infra.log_dir.parent / "mail"


def _identity_environment(infra: LocalInfra, service: ServiceProcess) -> dict[str, str]:
    url = f"http://127.0.0.1:{service.port}"
    return {
        "IDENTITY_KEY_ENCRYPTION_KEY": _local_secret(
            infra, "identity-key-encryption-key", lambda: base64.b64encode(os.urandom(32)).decode()
        ),
        "IDENTITY_PUBLIC_URL": url,
        "IDENTITY_LINKS_BASE_URL": GATEWAY_URL,
        "IDENTITY_TRUSTED_PROXIES": '["127.0.0.1"]',  # the gateway names the client's address
        "IDENTITY_SMTP_HOST": "127.0.0.1",
        "IDENTITY_SMTP_PORT": str(SMTP_PORT),
        "IDENTITY_ESIA_ISSUER": f"http://127.0.0.1:{ESIA_PORT}",
        "IDENTITY_ESIA_CLIENT_ID": ESIA_CLIENT_ID,
        "IDENTITY_ESIA_CLIENT_SECRET": _esia_secret(infra),
        "IDENTITY_ESIA_REDIRECT_URI": f"{GATEWAY_URL}/federated/esia/callback",
    }


def _helpers(infra: LocalInfra) -> list[tuple[str, list[str], int]]:
    """Development stand-ins for the outside world: the SMTP sink and the ESIA-like provider."""
    return [
        (
            "smtp-sink",
            [
                sys.executable,
                "-m",
                "diary_devinfra.smtp_sink",
                "--port",
                str(SMTP_PORT),
                "--dir",
                str(mail_dir(infra)),
            ],
            SMTP_PORT,
        ),
        (
            "esia",
            [
                sys.executable,
                "-m",
                "diary_devinfra.oidc_provider",
                "--port",
                str(ESIA_PORT),
                "--state-dir",
                str(infra.log_dir.parent / "esia"),
                "--client-id",
                ESIA_CLIENT_ID,
                "--client-secret",
                _esia_secret(infra),
                "--redirect-uri",
                f"{GATEWAY_URL}/federated/esia/callback",
            ],
            ESIA_PORT,
        ),
    ]


def _wait_port(name: str, port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with {process.returncode}; see its log")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise SystemExit(f"{name} did not listen on {port} within {timeout:.0f} s")


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
    ports = [(s.name, s.port) for s in SERVICES if s.port]
    ports += [(name, port) for name, _, port in _helpers(infra)]
    for name, port in ports:
        if not _process.port_is_free(port):
            raise SystemExit(f"port {port} for {name} is already in use; `make stop` or free it")
    print("starting Kafka and PostgreSQL ...", flush=True)
    infra.up(databases=sorted({s.database for s in SERVICES}))
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
        for name, command, port in _helpers(infra):
            log = (infra.log_dir / f"{name}.log").open("ab")
            helper = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            children.append((ServiceProcess(name, "", port, "", ""), helper))
            (_run_dir(infra) / f"{name}.pid").write_text(str(helper.pid))
            _wait_port(name, port, helper, timeout=120)
        for service in SERVICES:
            if service.command == "worker":  # after its API has migrated the database
                _wait_ready(_service(service.name.removesuffix("-worker")), children[-1][1], timeout=90)
            log = (infra.log_dir / f"{service.name}.log").open("ab")
            child = subprocess.Popen(
                [sys.executable, "-m", service.module, service.command],
                env={**os.environ, **service.environment(infra)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            children.append((service, child))
            (_run_dir(infra) / f"{service.name}.pid").write_text(str(child.pid))
        for service, child in children:
            if service.module and service.port:
                _wait_ready(service, child, timeout=90)
        print("loading demo data ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "gradebook.entrypoints.cli", "demo", "--url", "http://127.0.0.1:8101"],
            env={**os.environ, **SERVICES[0].environment(infra)},
            check=True,
        )
        identity = _service("identity")
        subprocess.run(
            [
                sys.executable,
                "-m",
                identity.module,
                "demo",
                "--url",
                f"http://127.0.0.1:{identity.port}",
                "--mailbox",
                str(mail_dir(infra)),
            ],
            env={**os.environ, **identity.environment(infra)},
            check=True,
        )
        # The demo parent's access to the demo pupil: an operator invites the school's deputy
        # head, who approves the parent's application (all through the APIs and the mail).
        subprocess.run(
            [sys.executable, "-m", identity.module, "invite-operator", "operator@diary.local"],
            env={**os.environ, **identity.environment(infra)},
            check=True,
        )
        applications = _service("applications")
        subprocess.run(
            [
                sys.executable,
                "-m",
                applications.module,
                "demo",
                "--url",
                f"http://127.0.0.1:{applications.port}",
                "--identity-url",
                f"http://127.0.0.1:{identity.port}",
                "--mailbox",
                str(mail_dir(infra)),
            ],
            env={**os.environ, **applications.environment(infra)},
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
    for name in [s.name for s in SERVICES] + [name for name, _, _ in _helpers(infra)]:
        pid_file = _run_dir(infra) / f"{name}.pid"
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

  web diary     {GATEWAY_URL}/               (parents' page: sign in as the demo parent below)
  gateway       {GATEWAY_URL}/docs           (the front door's OpenAPI: diary, applications, session)
  gradebook     http://127.0.0.1:8101/docs      (OpenAPI: /openapi.json, metrics: /metrics)
  identity      http://127.0.0.1:8102/docs      (JWKS: /.well-known/jwks.json)
  applications  http://127.0.0.1:8103/docs      (access applications, consents, parent links)
  notifications http://127.0.0.1:8104/docs      (feed and preferences; its faust worker runs beside it)
  ESIA (local)  http://127.0.0.1:{ESIA_PORT}/.well-known/openid-configuration
  mail sink     smtp://127.0.0.1:{SMTP_PORT}, letters in {mail_dir(infra)}/new
  Kafka         {infra.kafka.bootstrap_servers}
  PostgreSQL    {infra.postgres.dsn("gradebook")}
  logs          {infra.log_dir}

Open {GATEWAY_URL}/ and sign in as the demo parent ivanova.parent@example.org with the password
«Белые ночи над Невой 1703» (or «Войти через Госуслуги» as petrov.parent@example.org /
esia-petrov, a new account, or ivanova.parent@example.org / esia-ivanova). The parent's child,
the demo pupil, was linked by the school's deputy head (deputy.head.school1@example.org, same
password) through an access application.

The same through the gateway's API (E = the education_id printed above):

  TOKEN=$(curl -s -X POST {GATEWAY_URL}/api/v1/tokens -H 'content-type: application/json' \\
       -d '{{"email": "ivanova.parent@example.org", "password": "Белые ночи над Невой 1703"}}' \\
       | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s {GATEWAY_URL}/api/v1/children -H "Authorization: Bearer $TOKEN"
  curl -s "{GATEWAY_URL}/api/v1/diary/$E/week?date={time.strftime("%Y-%m-%d")}" \\
       -H "Authorization: Bearer $TOKEN"
  curl -s {GATEWAY_URL}/api/v1/applications -H "Authorization: Bearer $TOKEN"

A teacher's mark through the gateway (the teacher's own token; see services/gateway/README.md):
  POST {GATEWAY_URL}/api/v1/journal/marks. Register another parent: open {GATEWAY_URL}/ and
  follow the letter that lands in {mail_dir(infra)}/new.
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
