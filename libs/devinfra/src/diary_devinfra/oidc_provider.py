"""A local OpenID Connect provider that plays ESIA («Госуслуги») for development and tests.

The real ESIA cannot be reached from a developer's machine or CI, so the identity service signs
in against the OpenID-certified npm package oidc-provider, configured by
deploy/local/oidc-provider/provider.mjs with ESIA's scope names and the demo accounts of
accounts.json. Its node_modules are installed with `npm ci` once per lockfile into the per-user
cache (as Kafka's jars are), shared by every clone; a start copies provider.mjs into
<state dir>/oidc-provider, next to a link to those modules, and runs it with Node.js as a
child process. Its signing key stays in that dir across restarts; its log is
<state dir>/logs/oidc-provider.log.

    python -m diary_devinfra.oidc_provider --port 8190 --state-dir .local/infra \\
        --client-secret dev-secret --redirect-uri http://127.0.0.1:8102/federated/esia/callback
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from diary_devinfra import _process
from diary_devinfra.errors import InfraError
from diary_devinfra.settings import default_cache_dir, find_repo_root, package_repo_root

log = logging.getLogger(__name__)

PACKAGE_DIR = Path("deploy/local/oidc-provider")
"""The npm package of the provider, relative to the repository root."""
DEFAULT_CLIENT_ID = "diary-identity"
MIN_NODE_MAJOR = 20  # oidc-provider 9 needs the global WebCrypto that Node 18 hides behind a flag


@dataclass(frozen=True)
class OidcAccount:
    """A demo ESIA account from accounts.json: sub is ESIA's numeric user id ("oid")."""

    sub: str
    login: str
    password: str
    claims: dict[str, Any] = field(default_factory=dict)


def find_package_dir() -> Path:
    """Locate deploy/local/oidc-provider in this checkout (cwd first, then the package's own)."""
    for root in (find_repo_root(), package_repo_root()):
        if root is not None and (root / PACKAGE_DIR / "provider.mjs").is_file():
            return root / PACKAGE_DIR
    raise InfraError(f"{PACKAGE_DIR} cannot be found; run from the repository checkout")


def load_accounts(path: Path | None = None) -> list[OidcAccount]:
    """Read the demo accounts the provider signs in (default: the package's accounts.json)."""
    raw = json.loads((path or find_package_dir() / "accounts.json").read_text(encoding="utf-8"))
    return [OidcAccount(str(a["sub"]), a["login"], a["password"], dict(a.get("claims", {}))) for a in raw]


def _node_version(node: str) -> int:
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    match = re.match(r"v(\d+)\.", done.stdout.strip())
    return int(match.group(1)) if match else 0


class OidcProvider:
    """The ESIA stand-in on 127.0.0.1:port with one confidential client, as a child process."""

    def __init__(
        self,
        state_dir: Path,
        port: int,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        issuer: str | None = None,
        package_dir: Path | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if not redirect_uris:
            raise ValueError("the client needs at least one redirect URI")
        self.state_dir = Path(state_dir).resolve()
        self._port = port
        self._issuer = (issuer or f"http://{_process.LOCALHOST}:{port}").rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = list(redirect_uris)
        self._package_dir = package_dir
        self.cache_dir = cache_dir or default_cache_dir()
        self.home = self.state_dir / "oidc-provider"
        self.log_file = self.state_dir / "logs" / "oidc-provider.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return self._issuer

    @property
    def port(self) -> int:
        return self._port

    @property
    def local_url(self) -> str:
        """Where the provider answers on this machine (the issuer may name a proxy instead)."""
        return f"http://{_process.LOCALHOST}:{self._port}"

    @property
    def package_dir(self) -> Path:
        return self._package_dir or find_package_dir()

    @property
    def accounts(self) -> list[OidcAccount]:
        return load_accounts(self.package_dir / "accounts.json")

    # -- node_modules --------------------------------------------------------------------

    def ensure_modules(self) -> Path:
        """Run `npm ci` into the cache once per lockfile; return that node_modules dir.

        A marker is written only after a complete install, so an interrupted one is redone.
        """
        lockfile = self.package_dir / "package-lock.json"
        digest = hashlib.sha256(lockfile.read_bytes()).hexdigest()[:16]
        target = self.cache_dir / f"oidc-provider-{digest}"
        modules, marker = target / "node_modules", target / "complete"
        if marker.is_file() and modules.is_dir():
            return modules
        npm = shutil.which("npm")
        if npm is None:
            raise InfraError("npm is needed to install the local OIDC provider; install Node.js 20+")
        target.mkdir(parents=True, exist_ok=True)
        with _process.file_lock(target / "lock"):
            if marker.is_file() and modules.is_dir():  # another process installed it meanwhile
                return modules
            staging = target / f"staging-{os.getpid()}"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            for name in ("package.json", "package-lock.json"):
                shutil.copy2(self.package_dir / name, staging / name)
            npm_log = target / "npm.log"
            started = time.monotonic()
            log.info("installing the OIDC provider's npm packages into %s", target)
            with npm_log.open("w") as out:
                done = subprocess.run(
                    [npm, "ci", "--no-audit", "--no-fund"],
                    cwd=staging,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                )
            if done.returncode != 0 or not (staging / "node_modules" / "oidc-provider").is_dir():
                shutil.rmtree(staging, ignore_errors=True)
                raise InfraError(
                    f"`npm ci` for the OIDC provider failed (exit {done.returncode}); see {npm_log}:\n"
                    f"{_process.tail(npm_log, 20)}"
                )
            shutil.rmtree(modules, ignore_errors=True)
            (staging / "node_modules").rename(modules)
            shutil.rmtree(staging, ignore_errors=True)
            marker.write_text(f"{lockfile}\n")
            log.info("npm packages installed in %.1fs", time.monotonic() - started)
        return modules

    def _node(self) -> str:
        node = shutil.which("node")
        if node is None or _node_version(node) < MIN_NODE_MAJOR:
            found = f"found {node} (v{_node_version(node)})" if node else "none found"
            raise InfraError(f"the local OIDC provider needs Node.js {MIN_NODE_MAJOR}+ ({found})")
        return node

    # -- process -------------------------------------------------------------------------

    def _prepare_app(self, modules: Path) -> Path:
        # Run a copy of the script from the state dir: ESM resolves packages next to the
        # script, and the shared cache must not depend on which clone's script it serves.
        app = self.home / "app"
        app.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.package_dir / "provider.mjs", app / "provider.mjs")
        (app / "package.json").write_text('{"type": "module", "private": true}\n')
        link = app / "node_modules"
        if link.is_symlink() or link.exists():
            if link.is_symlink() and Path(os.readlink(link)) == modules:
                return app
            if link.is_symlink():
                link.unlink()
            else:
                shutil.rmtree(link)
        link.symlink_to(modules, target_is_directory=True)
        return app

    def start(self, timeout: float = 120.0) -> None:
        """Install (first time), start the provider and wait until its discovery document answers."""
        if self.is_running():
            return
        if not _process.port_is_free(self._port):
            holder = _process.describe_port_holder(self._port) or "another process"
            raise InfraError(f"port {self._port} for the OIDC provider is already in use by {holder}")
        node = self._node()
        app = self._prepare_app(self.ensure_modules())
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PORT": str(self._port),
            "HOST": _process.LOCALHOST,
            "OIDC_ISSUER": self._issuer,
            "OIDC_CLIENT_ID": self.client_id,
            "OIDC_CLIENT_SECRET": self.client_secret,
            "OIDC_REDIRECT_URIS": ",".join(self.redirect_uris),
            "OIDC_STATE_DIR": str(self.home),
            "OIDC_ACCOUNTS_FILE": str(self.package_dir / "accounts.json"),
            "OIDC_EXIT_ON_STDIN_CLOSE": "1",
        }
        with self.log_file.open("a") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting the OIDC provider\n")
            out.flush()
            # stdin is a pipe only we hold: if this process dies, node sees EOF and exits.
            self._process = subprocess.Popen(
                [node, str(app / "provider.mjs")],
                cwd=app,
                env=env,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        log.info("started the OIDC provider pid %s, issuer %s", self._process.pid, self._issuer)
        try:
            self._wait_ready(self._process, timeout)
        except InfraError:
            self.stop()
            raise

    def _wait_ready(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        url = f"{self.local_url}/.well-known/openid-configuration"
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while True:
            if process.poll() is not None:
                raise InfraError(
                    f"the OIDC provider exited with {process.returncode} before it answered; "
                    f"{self.log_file}:\n{_process.tail(self.log_file, 15)}"
                )
            try:
                response = httpx.get(url, timeout=2.0)
                if response.status_code == 200 and response.json().get("issuer") == self._issuer:
                    return
                last_error = f"HTTP {response.status_code}"
            except (httpx.HTTPError, ValueError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:
                raise InfraError(
                    f"the OIDC provider did not answer {url} within {timeout:.0f}s ({last_error})"
                )
            time.sleep(0.1)

    def is_running(self) -> bool:
        """Tell whether the provider process started by this object still runs."""
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the provider: SIGTERM, SIGKILL after timeout. Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10.0)

    def __enter__(self) -> OidcProvider:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# -- playing the user's browser ------------------------------------------------------------


class OidcLoginError(Exception):
    """The provider did not let the user through (wrong password, an error page, a loop)."""


_FORM = re.compile(r"<form\b[^>]*\baction=\"([^\"]*)\"[^>]*>(.*?)</form>", re.IGNORECASE | re.DOTALL)
_ALERT = re.compile(r"role=\"alert\">(.*?)</", re.DOTALL)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _login_form_action(page: str) -> str | None:
    for action, body in _FORM.findall(page):
        if 'name="login"' in body and 'name="password"' in body:
            return html.unescape(action)
    return None


def _alert(page: str) -> str:
    found = _ALERT.search(page)
    return html.unescape(found.group(1)).strip() if found else page[:300]


def _forget_session(client: httpx.AsyncClient, host: str) -> None:
    # cookielib may store a dotless host as "<host>.local" and a domain cookie with a dot.
    for cookie in list(client.cookies.jar):
        if cookie.domain.lstrip(".").removesuffix(".local") == host:
            client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)


async def login(client: httpx.AsyncClient, authorization_url: str, login: str, password: str) -> str:
    """Sign in at the provider like a browser would; return the redirect back to the client.

    Follows the provider's own redirects and fills its login form; the final redirect (to the
    client's redirect_uri, with code and state, or error) is returned, not followed. client
    must keep cookies between requests (httpx.AsyncClient does). The provider's cookies are
    dropped first, so every call signs in afresh as login rather than reusing the session of
    an earlier call (a single sign-on test can walk the redirects itself).
    """
    provider = _origin(authorization_url)
    _forget_session(client, urlsplit(authorization_url).hostname or "")
    response = await client.get(authorization_url, follow_redirects=False)
    for _ in range(12):
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if _origin(target) != provider:
                return target
            response = await client.get(target, follow_redirects=False)
            continue
        if response.status_code != 200:
            raise OidcLoginError(f"HTTP {response.status_code} from {response.url}: {_alert(response.text)}")
        action = _login_form_action(response.text)
        if action is None:
            raise OidcLoginError(f"no login form at {response.url}: {_alert(response.text)}")
        if response.request.method == "POST":  # the form again after submitting it
            raise OidcLoginError(f"login as {login!r} rejected: {_alert(response.text)}")
        response = await client.post(
            urljoin(str(response.url), action),
            data={"login": login, "password": password},
            follow_redirects=False,
        )
    raise OidcLoginError(f"no redirect to the client after 12 steps from {authorization_url}")


def main(argv: list[str] | None = None) -> int:
    """Run the provider in the foreground until SIGINT/SIGTERM (make run starts it as a child)."""
    parser = argparse.ArgumentParser(
        prog="python -m diary_devinfra.oidc_provider",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--state-dir", type=Path, required=True, help="signing key and log live here")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", action="append", required=True, help="repeat for several")
    parser.add_argument("--issuer", help="default http://127.0.0.1:<port>")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the start")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every readiness probe
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    provider = OidcProvider(
        args.state_dir,
        args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uris=args.redirect_uri,
        issuer=args.issuer,
    )
    try:
        provider.start(args.timeout)
    except InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"OIDC provider (ESIA stand-in) {provider.issuer}; log {provider.log_file}", flush=True)
    try:
        while not stopping.wait(1.0):
            if not provider.is_running():
                print(f"error: the OIDC provider exited; see {provider.log_file}", file=sys.stderr)
                return 1
    finally:
        provider.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
