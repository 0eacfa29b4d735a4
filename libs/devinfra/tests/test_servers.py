"""The launchers themselves: idempotent start/stop, stale pid files, clear port errors, CLI."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from diary_devinfra import _process, cli
from diary_devinfra.errors import PortInUseError
from diary_devinfra.kafka import KafkaServer, new_cluster_id
from diary_devinfra.postgres import PostgresServer
from diary_devinfra.pytest_plugin import ENV_TEST_KAFKA, ENV_TEST_POSTGRES, Infra, _provision


@contextlib.contextmanager
def foreign_listener() -> Iterator[int]:
    """A plain socket holding a free port, standing for somebody else's server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_cluster_id_looks_like_kafkas() -> None:
    cluster_id = new_cluster_id()
    assert len(cluster_id) == 22
    assert not cluster_id.startswith("-")


def test_kafka_start_is_idempotent_and_stop_too(tmp_path: Path) -> None:
    port, controller_port = _process.free_ports(2)
    server = KafkaServer(tmp_path, port, controller_port)
    try:
        server.start()
        first_pid = server.pid()
        cluster_id = server.status()["cluster_id"]
        server.start()  # already up: returns at once, same process, storage not reformatted
        assert server.pid() == first_pid
        status = server.status()
        assert status["healthy"] is True
        assert status["cluster_id"] == cluster_id
        assert status["bootstrap_servers"] == f"127.0.0.1:{port}"
        assert server.log_file.parent == tmp_path / "logs"
        assert server.log_file.stat().st_size > 0
    finally:
        server.stop()
    assert first_pid is not None
    assert not _process.pid_alive(first_pid)
    server.stop()
    assert server.status()["running"] is False


def test_stale_pid_file_is_cleaned_up(tmp_path: Path) -> None:
    server = KafkaServer(tmp_path, *_process.free_ports(2))
    server.home.mkdir(parents=True)
    server.pid_file.write_text("999999999\n")
    assert server.pid() is None
    assert not server.pid_file.exists()


def test_kafka_port_held_by_a_foreign_socket_gives_a_clear_error(tmp_path: Path) -> None:
    with foreign_listener() as port:
        server = KafkaServer(tmp_path, port, _process.free_ports(1)[0])
        with pytest.raises(PortInUseError) as caught:
            server.start()
    message = str(caught.value)
    assert f"port {port} on 127.0.0.1 is already in use by pid" in message
    assert "not this project's Kafka" in message
    assert "DIARY_KAFKA_PORT" in message


def test_postgres_port_held_by_a_foreign_socket_gives_a_clear_error(tmp_path: Path) -> None:
    with foreign_listener() as port, pytest.raises(PortInUseError) as caught:
        PostgresServer(tmp_path, port, throwaway=True).start()
    assert f"port {port} on 127.0.0.1" in str(caught.value)
    assert "(not this project's PostgreSQL); stop it or set DIARY_PG_PORT" in str(caught.value)


def test_cli_reports_port_conflicts_and_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    kafka_port, controller_port = _process.free_ports(2)
    monkeypatch.setenv("DIARY_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("DIARY_KAFKA_PORT", str(kafka_port))
    monkeypatch.setenv("DIARY_KAFKA_CONTROLLER_PORT", str(controller_port))
    with foreign_listener() as pg_port:
        monkeypatch.setenv("DIARY_PG_PORT", str(pg_port))
        assert cli.main(["-q", "status", "--json"]) == cli.EXIT_NOT_RUNNING
        report = json.loads(capsys.readouterr().out)
        assert report["kafka"]["running"] is False
        assert report["postgres"]["port"] == pg_port
        assert cli.main(["-q", "down"]) == 0  # nothing running: still fine
        capsys.readouterr()
        # Kafka's port is free: up fails on PostgreSQL's before starting anything heavy.
        monkeypatch.setenv("DIARY_KAFKA_PORT", str(pg_port))
        assert cli.main(["-q", "up"]) == 1
    assert "DIARY_KAFKA_PORT" in capsys.readouterr().err


def test_servers_named_by_environment_come_first(infra: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_TEST_KAFKA, infra.kafka_bootstrap)
    monkeypatch.setenv(ENV_TEST_POSTGRES, infra.postgres_admin_dsn)
    with contextlib.ExitStack() as stack:
        assert _provision(stack) == infra


async def test_postgres_in_an_unreachable_state_dir_falls_back_and_cleans_up(
    tmp_path: Path,
) -> None:
    state = tmp_path / "private"
    state.mkdir(mode=0o700)  # like a clone under `mktemp -d`
    server = PostgresServer(state, _process.free_ports(1)[0], throwaway=True)
    try:
        server.start()
        server.start()  # already running: nothing to do
        status = server.status()
        assert status["healthy"] is True
        assert await server.ensure_databases(["gradebook", "other"]) == ["gradebook", "other"]
        assert await server.ensure_databases(["gradebook"]) == []
        if os.geteuid() == 0:  # the postgres user cannot enter a root-owned 0700 dir
            assert status["fallback"] is True
            assert server.base_dir == server.fallback_dir
            assert (state / "logs" / "postgres.log").resolve() == server.log_file
    finally:
        server.destroy()
    assert not server.fallback_dir.exists()
    assert server.status()["running"] is False
