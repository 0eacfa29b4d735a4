"""A private PostgreSQL cluster run from Debian's server binaries, for `make run` and tests.

The cluster listens on 127.0.0.1 only, on a non-default port, with no Unix socket, so it
never meets the machine's own PostgreSQL. PostgreSQL refuses to run as root; when we are root
the server runs as the `postgres` system user, and if that user cannot reach the state dir
(a clone under a 0700 temp dir, say) the data dir moves to /var/tmp/diary-platform-pg/.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import pwd
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from diary_devinfra import _process
from diary_devinfra.errors import InfraError, PortInUseError
from diary_devinfra.settings import DEFAULT_PG_PORT, ENV_PG_PORT

log = logging.getLogger(__name__)

# Development credentials only: the cluster listens on loopback and holds throwaway data.
SUPERUSER = "diary"
PASSWORD = "diary"

FALLBACK_ROOT = Path("/var/tmp/diary-platform-pg")
SYSTEM_USER = "postgres"

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _checked_name(name: str) -> str:
    # Plain lower-case identifiers only: they need no quoting rules and stay portable.
    if not _DATABASE_NAME.match(name):
        raise ValueError(f"database name {name!r} must match {_DATABASE_NAME.pattern}")
    return name


def dsn_with_database(dsn: str, database: str) -> str:
    """Return dsn pointing at another database (same server, user and options)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def create_database(admin_dsn: str, name: str) -> bool:
    """Create database name unless it exists; return whether it was created."""
    _checked_name(name)
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:  # created concurrently: fine, it exists
            return False
        return True
    finally:
        await conn.close()


async def drop_database(admin_dsn: str, name: str) -> None:
    """Drop database name if it exists, disconnecting whoever still uses it."""
    _checked_name(name)
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def postgres_answers(dsn: str, timeout: float = 5.0) -> None:
    """Connect and run `SELECT 1`: the proof that the server accepts our credentials."""
    conn = await asyncpg.connect(dsn, timeout=timeout)
    try:
        await conn.fetchval("SELECT 1", timeout=timeout)
    finally:
        await conn.close()


def wait_for_postgres(dsn: str, timeout: float) -> None:
    """Block until dsn accepts a query, or raise InfraError naming the last failure."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _process.run_sync(postgres_answers(dsn))
            return
        except Exception as exc:
            if time.monotonic() >= deadline:
                host = urlsplit(dsn).netloc.rpartition("@")[2]
                raise InfraError(
                    f"PostgreSQL at {host} did not answer within {timeout:.0f}s ({type(exc).__name__}: {exc})"
                ) from None
        time.sleep(0.25)


def find_bindir() -> Path | None:
    """Locate the server binaries (initdb, pg_ctl, postgres); Debian keeps them off PATH."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(done.stdout.strip())
        if done.returncode == 0 and (bindir / "initdb").exists():
            return bindir
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:
        newest = max(found, key=lambda path: int(Path(path).parts[-3].split(".")[0]))
        return Path(newest).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    """A PostgreSQL cluster owned by this project, tracked by its data dir's postmaster.pid."""

    def __init__(self, state_dir: Path, port: int = DEFAULT_PG_PORT, *, throwaway: bool = False):
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        # Throwaway (test) clusters trade durability for speed; never use it for `make run`.
        self.throwaway = throwaway
        self.home = self.state_dir / "postgres"
        self.log_dir = self.state_dir / "logs"
        self._location_file = self.home / "location"
        self._as_root = os.geteuid() == 0
        self._bindir: Path | None = None

    # -- locations -----------------------------------------------------------------------

    @property
    def fallback_dir(self) -> Path:
        """Where the cluster goes when the postgres user cannot reach the state dir."""
        digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:12]
        return FALLBACK_ROOT / digest

    @property
    def base_dir(self) -> Path:
        """The directory holding data/ (the state dir, or the fallback chosen at first start)."""
        try:
            return Path(self._location_file.read_text().strip())
        except OSError:
            return self.home

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        """The server log; <state dir>/logs/postgres.log is a link to it after a fallback."""
        if self.base_dir != self.home:
            return self.base_dir / "postgres.log"
        return self.log_dir / "postgres.log"

    @property
    def admin_dsn(self) -> str:
        """Superuser DSN to the `postgres` database: for CREATE/DROP DATABASE."""
        return self.dsn("postgres")

    def dsn(self, database: str) -> str:
        """DSN of database on this cluster (asyncpg / libpq URL form)."""
        return f"postgresql://{SUPERUSER}:{PASSWORD}@{_process.LOCALHOST}:{self.port}/{database}"

    # -- installation and users ----------------------------------------------------------

    def ensure_installed(self) -> Path:
        """Return the server's bindir, installing Debian's postgresql package if missing."""
        if self._bindir is None:
            bindir = find_bindir()
            if bindir is None:
                _process.apt_install(["postgresql"], "the PostgreSQL server is not installed")
                bindir = find_bindir()
            if bindir is None:
                raise InfraError("PostgreSQL was installed but initdb cannot be found")
            if self._as_root:
                try:
                    pwd.getpwnam(SYSTEM_USER)
                except KeyError:
                    raise InfraError(
                        f"running as root needs the `{SYSTEM_USER}` system user (PostgreSQL "
                        "refuses root); install Debian's postgresql package"
                    ) from None
            self._bindir = bindir
        return self._bindir

    def _run(self, argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a server tool as the postgres user when we are root, from a neutral cwd."""
        prefix = ["runuser", "-u", SYSTEM_USER, "--"] if self._as_root else []
        done = subprocess.run(
            [*prefix, *argv],
            cwd="/",  # the user may not be allowed into our cwd
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            start_new_session=True,
        )
        if check and done.returncode != 0:
            raise InfraError(
                f"`{' '.join(argv)}` failed (exit {done.returncode}):\n"
                f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
            )
        return done

    def _give_to_postgres(self, path: Path, mode: int) -> None:
        path.chmod(mode)
        if self._as_root:
            user = pwd.getpwnam(SYSTEM_USER)
            os.chown(path, user.pw_uid, user.pw_gid)

    def _postgres_can_use(self, directory: Path) -> bool:
        if not self._as_root:
            return True
        probe = ["runuser", "-u", SYSTEM_USER, "--", "test", "-x", str(directory)]
        return subprocess.run(probe, cwd="/", check=False).returncode == 0

    def _prepare_location(self) -> Path:
        """Pick (once) and create the directory holding data/; return it."""
        for directory in (self.home, self.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o755)
        if self._location_file.exists():
            base = self.base_dir
        elif self._postgres_can_use(self.home):
            base = self.home
        else:
            base = self.fallback_dir
            if base.exists():
                # No record in our state dir: a leftover of an earlier, deleted state dir.
                log.info("removing stale PostgreSQL fallback dir %s", base)
                self._stop_cluster(base / "data", timeout=30.0)
                shutil.rmtree(base)
            log.warning(
                "user %s cannot reach %s; PostgreSQL data goes to %s",
                SYSTEM_USER, self.home, base,
            )  # fmt: skip
        self._location_file.write_text(f"{base}\n")
        if base != self.home:
            FALLBACK_ROOT.mkdir(mode=0o755, exist_ok=True)
            base.mkdir(mode=0o755, exist_ok=True)
            (base / "owner").write_text(f"{self.state_dir}\n")
        data = base / "data"
        if not data.exists():
            data.mkdir()
            self._give_to_postgres(data, 0o700)
        if not self.log_file.exists():
            self.log_file.touch()
            self._give_to_postgres(self.log_file, 0o640)
        link = self.log_dir / "postgres.log"
        if base != self.home and not link.is_symlink():
            link.unlink(missing_ok=True)
            link.symlink_to(self.log_file)
        return base

    # -- configuration -------------------------------------------------------------------

    def _settings(self) -> str:
        lines = [
            "# Written by diary_devinfra.postgres on every start; edits are lost.",
            f"listen_addresses = '{_process.LOCALHOST}'",
            f"port = {self.port}",
            "unix_socket_directories = ''  # TCP only: no clash with a system cluster",
            "max_connections = 200",
            "password_encryption = 'scram-sha-256'",
            "log_line_prefix = '%m [%p] %q%u@%d '",
        ]
        if self.throwaway:
            # Test clusters are deleted after the session: durability buys nothing there.
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        return "\n".join(lines) + "\n"

    def _initdb(self, bindir: Path, base: Path) -> None:
        pwfile = base / ".initdb-password"
        pwfile.write_text(f"{PASSWORD}\n")
        self._give_to_postgres(pwfile, 0o600)
        try:
            argv = [
                str(bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8",
                "--locale=C.UTF-8", "--no-instructions",
            ]  # fmt: skip
            if self.throwaway:
                argv.append("--no-sync")
            self._run(argv)
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# diary_devinfra: ports and tuning of this private cluster\n")
            conf.write("include_if_exists = 'diary.conf'\n")
        log.info("initialised PostgreSQL cluster in %s", self.data_dir)

    # -- process -------------------------------------------------------------------------

    def _postmaster(self, data: Path | None = None) -> tuple[int, int] | None:
        """Return (pid, port) of the live postmaster of data dir, if any."""
        try:
            lines = ((data or self.data_dir) / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        if not _process.pid_alive(pid) or "postgres" not in " ".join(_process.process_cmdline(pid)):
            return None
        return pid, port

    def pid(self) -> int | None:
        """Return the postmaster's pid when our cluster runs."""
        found = self._postmaster()
        return found[0] if found else None

    def start(self, timeout: float = 60.0) -> None:
        """Start the cluster unless it already runs; initialise it on first use.

        A changed port or setting restarts it; a port held by someone else raises
        PortInUseError before anything is touched.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with _process.file_lock(self.state_dir / ".postgres.lock"):
            self._start(timeout)

    def _start(self, timeout: float) -> None:
        bindir = self.ensure_installed()
        settings = self._settings()
        if self.pid() is not None:
            current = self.data_dir / "diary.conf"
            if current.exists() and current.read_text() == settings:
                wait_for_postgres(self.admin_dsn, timeout)
                return
            log.info("PostgreSQL settings changed; restarting")
            self._stop_cluster(self.data_dir, 60.0)
        if not _process.port_is_free(self.port):
            raise PortInUseError(
                self.port, "PostgreSQL", ENV_PG_PORT, _process.describe_port_holder(self.port)
            )
        base = self._prepare_location()
        self._clear_stale_lock()
        conf = self.data_dir / "diary.conf"
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bindir, base)
        conf.write_text(settings)
        self._give_to_postgres(conf, 0o644)
        argv = [
            str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
            "-w", "-t", str(int(timeout)), "-s", "start",
        ]  # fmt: skip
        done = self._run(argv, check=False)
        if done.returncode != 0:
            raise InfraError(
                f"PostgreSQL did not start (pg_ctl exit {done.returncode}) {done.stderr.strip()}; "
                f"last lines of {self.log_file}:\n{_process.tail(self.log_file, 15)}"
            )
        wait_for_postgres(self.admin_dsn, 15.0)
        log.info("PostgreSQL up on port %s (data %s)", self.port, self.data_dir)

    def _clear_stale_lock(self) -> None:
        """Remove postmaster.pid of a postmaster that died without cleaning up (kill -9).

        PostgreSQL removes such a file itself unless the old pid still exists, and an unreaped
        zombie does (some sandboxes' init never reaps). Backends keep the data dir as their
        cwd, so none may still run there before the file goes.
        """
        lock = self.data_dir / "postmaster.pid"
        if not lock.exists() or self._postmaster() is not None:
            return
        deadline = time.monotonic() + 10.0
        while _process.processes_in(self.data_dir):
            if time.monotonic() >= deadline:
                raise InfraError(
                    f"processes of a dead postmaster still run in {self.data_dir}: "
                    f"{_process.processes_in(self.data_dir)}; kill them and retry"
                )
            time.sleep(0.2)
        log.info("removing stale %s", lock)
        lock.unlink(missing_ok=True)

    def _stop_cluster(self, data: Path, timeout: float) -> None:
        found = self._postmaster(data)
        if found is None:
            return
        bindir = self.ensure_installed()
        for mode in ("fast", "immediate"):
            argv = [str(bindir / "pg_ctl"), "-D", str(data), "-m", mode, "-w",
                    "-t", str(int(timeout)), "-s", "stop"]  # fmt: skip
            if self._run(argv, check=False).returncode == 0:
                return
        _process.terminate(found[0], 5.0)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the cluster (pg_ctl fast shutdown, then immediate). Idempotent; keeps data."""
        if not self.state_dir.is_dir():
            return
        with _process.file_lock(self.state_dir / ".postgres.lock"):
            self._stop_cluster(self.data_dir, timeout)

    def destroy(self) -> None:
        """Stop the cluster and delete its data, including a fallback dir (test clusters)."""
        base = self.base_dir
        self._stop_cluster(self.data_dir, timeout=30.0)
        if base != self.home:
            shutil.rmtree(base, ignore_errors=True)
            link = self.log_dir / "postgres.log"
            if link.is_symlink():
                link.unlink()
        shutil.rmtree(self.home, ignore_errors=True)

    def is_healthy(self, timeout: float = 5.0) -> bool:
        """Tell whether our cluster runs and accepts a query within timeout."""
        if self.pid() is None:
            return False
        try:
            _process.run_sync(postgres_answers(self.admin_dsn, timeout))
        except Exception:
            return False
        return True

    def status(self) -> dict[str, object]:
        """Describe the cluster for `diary-infra status` (JSON-serialisable)."""
        found = self._postmaster()
        port = found[1] if found else self.port  # the running server's, if it runs
        admin_dsn = self.admin_dsn.replace(f":{self.port}/", f":{port}/")
        healthy = False
        if found is not None:
            try:
                _process.run_sync(postgres_answers(admin_dsn))
                healthy = True
            except Exception:
                healthy = False
        return {
            "service": "postgres",
            "running": found is not None,
            "healthy": healthy,
            "pid": found[0] if found else None,
            "port": port,
            "admin_dsn": admin_dsn,
            "data_dir": str(self.data_dir),
            "fallback": self.base_dir != self.home,
            "throwaway": self.throwaway,
            "log": str(self.log_file),
        }

    # -- databases -----------------------------------------------------------------------

    async def create_database(self, name: str) -> bool:
        """Create database name unless it exists; return whether it was created."""
        return await create_database(self.admin_dsn, name)

    async def ensure_databases(self, names: Iterable[str]) -> list[str]:
        """Create every missing database of names; return those that were created."""
        return [name for name in names if await create_database(self.admin_dsn, name)]
