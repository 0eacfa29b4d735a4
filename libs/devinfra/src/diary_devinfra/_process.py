"""Process, pid-file and port helpers shared by the Kafka and PostgreSQL launchers.

Linux only (it reads /proc), like the rest of the local infrastructure.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from diary_devinfra.errors import InfraError

T = TypeVar("T")

LOCALHOST = "127.0.0.1"

# `"$@" &` makes the server a child of this throwaway shell, which exits at once: the server is
# re-parented to init, so it outlives the Python process that asked for it (make run, then
# make stop from another shell) and never lingers as our zombie.
_DETACH = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'


def spawn_detached(argv: Sequence[str], *, log: Path, cwd: Path) -> int:
    """Start argv in its own session, output appended to log; return its pid."""
    out = subprocess.run(
        ["/bin/sh", "-c", _DETACH, "sh", str(log), *argv],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
        start_new_session=True,
    )
    return int(out.stdout.strip())


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on path: two `up`s (or make run + pytest) must not race."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pid_alive(pid: int) -> bool:
    """Tell whether pid is a live process (a zombie counts as gone)."""
    with contextlib.suppress(ChildProcessError):
        # Our own child that exited is only gone once reaped.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def process_cmdline(pid: int) -> list[str]:
    """Return the command line of pid, or [] when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def processes_in(directory: Path) -> list[int]:
    """Return the live processes whose working directory is directory."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")) == directory and pid_alive(int(proc.name)):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def read_pid_file(path: Path) -> int | None:
    """Return the pid stored in path, or None when the file is missing or garbled."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def terminate(pid: int, timeout: float) -> None:
    """SIGTERM pid, wait up to timeout, then SIGKILL: a clean shutdown first, a bound always."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.1)


def port_is_free(port: int, host: str = LOCALHOST) -> bool:
    """Tell whether a server could listen on host:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR too, so TIME_WAIT leftovers do not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """Ask the kernel for count distinct free ports (all bound at once so they differ)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((LOCALHOST, 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def tcp_open(port: int, host: str = LOCALHOST, timeout: float = 0.5) -> bool:
    """Tell whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # fields: sl local_address rem_address st ... uid timeout inode
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def port_holder(port: int) -> tuple[int, list[str]] | None:
    """Find the process listening on port: (pid, cmdline), or None if it cannot be seen."""
    targets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not targets:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in targets:
                    return int(proc.name), process_cmdline(int(proc.name))
            except OSError:
                continue
    return None


def describe_port_holder(port: int) -> str | None:
    """Name the process on port for an error message, e.g. 'pid 42 (nc -l 19092)'."""
    found = port_holder(port)
    if found is None:
        return None
    pid, cmdline = found
    command = " ".join(" ".join(cmdline).split())  # one line, even for `python -c` scripts
    if len(command) > 120:
        command = command[:117] + "..."
    return f"pid {pid} ({command})" if command else f"pid {pid}"


def tail(path: Path, lines: int = 40) -> str:
    """Return the last lines of a (possibly big) log file; '' when it does not exist."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 256 * 1024))
            data = handle.read()
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from synchronous code, even when this thread already runs a loop.

    The launchers are synchronous (CLI, session fixtures) but probe the servers with the
    asyncio clients; inside a running loop asyncio.run is not allowed, so use a thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[T] = []
    errors: list[BaseException] = []

    def runner() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=runner, name="diary-devinfra-probe")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def apt_install(packages: Sequence[str], why: str) -> None:
    """Install Debian packages when we are root (the project's machines are); else explain.

    The machines are rebuilt between sessions, so the project installs what it needs itself
    rather than documenting a manual step.
    """
    if os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists():
        raise InfraError(f"{why}: install the Debian packages {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
    ):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise InfraError(f"{why}; `{' '.join(argv)}` failed:\n{done.stderr[-2000:]}")
