"""Where the local infrastructure lives and which ports it uses (environment overrides)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from diary_devinfra.errors import InfraError

ENV_STATE_DIR = "DIARY_STATE_DIR"
ENV_KAFKA_PORT = "DIARY_KAFKA_PORT"
ENV_KAFKA_CONTROLLER_PORT = "DIARY_KAFKA_CONTROLLER_PORT"
ENV_PG_PORT = "DIARY_PG_PORT"

DEFAULT_KAFKA_PORT = 19092
DEFAULT_KAFKA_CONTROLLER_PORT = 19093
DEFAULT_PG_PORT = 15432

KAFKA_POM = Path("deploy/local/kafka/pom.xml")


def _is_repo_root(path: Path) -> bool:
    # The Makefile is the documented marker; deploy/local (ours) also counts so the tools work
    # in a checkout whose Makefile is not written yet.
    return (path / "libs").is_dir() and (
        (path / "Makefile").is_file() or (path / "deploy" / "local").is_dir()
    )


def find_repo_root(start: Path | None = None) -> Path | None:
    """Return the nearest ancestor of start (default: cwd) that is the monorepo root."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if _is_repo_root(candidate):
            return candidate
    return None


def package_repo_root() -> Path | None:
    """Return the checkout this package is installed from (editable installs), if any."""
    candidate = Path(__file__).resolve().parents[4]
    return candidate if _is_repo_root(candidate) else None


def default_cache_dir() -> Path:
    """Per-user cache shared by every clone, so the Kafka jars are fetched once per machine."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "diary-platform"


def port_from_env(name: str, default: int) -> int:
    """Read a TCP port from the environment, failing loudly on nonsense."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise InfraError(f"{name}={raw!r} is not a TCP port number")
    return port


@dataclass(frozen=True)
class InfraSettings:
    """Everything `diary-infra` needs to know: state directory and ports."""

    state_dir: Path
    kafka_port: int = DEFAULT_KAFKA_PORT
    kafka_controller_port: int = DEFAULT_KAFKA_CONTROLLER_PORT
    pg_port: int = DEFAULT_PG_PORT

    @classmethod
    def from_env(cls, repo_root: Path | None = None) -> InfraSettings:
        """Build settings from DIARY_* variables; state defaults to <repo>/.local/infra."""
        raw_state = os.environ.get(ENV_STATE_DIR, "").strip()
        if raw_state:
            state_dir = Path(raw_state).expanduser().resolve()
        else:
            root = repo_root or find_repo_root()
            if root is None:
                raise InfraError(
                    "cannot find the repository root (a directory with libs/ and a Makefile) "
                    f"above {Path.cwd()}; run from the repo, pass --repo-root or set "
                    f"{ENV_STATE_DIR}"
                )
            state_dir = root.resolve() / ".local" / "infra"
        return cls(
            state_dir=state_dir,
            kafka_port=port_from_env(ENV_KAFKA_PORT, DEFAULT_KAFKA_PORT),
            kafka_controller_port=port_from_env(ENV_KAFKA_CONTROLLER_PORT, DEFAULT_KAFKA_CONTROLLER_PORT),
            pg_port=port_from_env(ENV_PG_PORT, DEFAULT_PG_PORT),
        )
