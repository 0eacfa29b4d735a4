"""Exceptions of diary_devinfra: one base class so callers (CLI, fixtures) can report them."""

from __future__ import annotations


class InfraError(RuntimeError):
    """A local server could not be installed, started, stopped or reached."""


class PortInUseError(InfraError):
    """A port we need is held by a process that is not our own server.

    Raised before starting anything, so the message can name the port, the holder and the
    environment variable that moves our server elsewhere, instead of a Java or PostgreSQL
    bind error buried in a log file.
    """

    def __init__(self, port: int, service: str, env_var: str, holder: str | None) -> None:
        self.port = port
        who = holder or "another process"
        super().__init__(
            f"port {port} on 127.0.0.1 is already in use by {who} (not this project's "
            f"{service}); stop it or set {env_var}"
        )
