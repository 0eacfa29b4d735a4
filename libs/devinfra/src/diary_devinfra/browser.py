"""Headless Chromium for tests of the web pages, from Debian's package, driven by Playwright.

Playwright's own browser download (`playwright install`) needs the internet, which the
project's machines do not have; the Python package talks to any Chromium through
`executable_path`, so the browser is Debian's `chromium`, installed from the machine's
package sources when it is missing (as root, like PostgreSQL in `postgres.py`).

    async with launch_chromium() as browser:
        async with new_page(browser) as page:
            await page.goto(url)
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Error, Page, ViewportSize, async_playwright

from diary_devinfra import _process
from diary_devinfra.errors import InfraError

log = logging.getLogger(__name__)

DEBIAN_PACKAGE = "chromium"
EXECUTABLES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")

LAUNCH_FLAGS = (
    "--headless",
    "--no-sandbox",  # tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Flags that Chromium needs on the project's machines (no GPU, no display, no internet).
Playwright adds a fresh, empty --user-data-dir of its own to every launch and deletes it on
close."""

LAUNCH_TIMEOUT = 60.0


def find_chromium() -> Path | None:
    """Return the Chromium executable if one is installed."""
    for candidate in EXECUTABLES:
        if Path(candidate).is_file():
            return Path(candidate)
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return Path(found) if found else None


def chromium_version(executable: Path) -> str:
    """`chromium --version`, e.g. "Chromium 156.0.8078.79 built on Debian ..."; raise if it fails."""
    done = subprocess.run(
        [str(executable), "--version"],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    if done.returncode != 0:
        raise InfraError(
            f"{executable} --version failed (exit {done.returncode}): {done.stderr.strip()[-1000:]}"
        )
    return done.stdout.strip()


def ensure_chromium() -> Path:
    """Return the Chromium executable, installing Debian's chromium package when missing."""
    executable = find_chromium()
    if executable is None:
        # Two test processes may both find it missing: one installs, the other then finds it.
        with _process.file_lock(Path(tempfile.gettempdir()) / "diary-devinfra-chromium.lock"):
            executable = find_chromium()
            if executable is None:
                log.info("installing Debian's %s package for the browser tests", DEBIAN_PACKAGE)
                _process.apt_install([DEBIAN_PACKAGE], "Chromium is not installed")
                executable = find_chromium()
    if executable is None:
        raise InfraError(f"the {DEBIAN_PACKAGE} package was installed but no chromium executable is found")
    log.info("using %s", chromium_version(executable))
    return executable


@asynccontextmanager
async def launch_chromium(*, timeout: float = LAUNCH_TIMEOUT) -> AsyncIterator[Browser]:
    """Start headless Chromium (installing it first if needed); close it on exit."""
    executable = await asyncio.to_thread(ensure_chromium)
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=str(executable),
                headless=True,
                args=list(LAUNCH_FLAGS),
                timeout=timeout * 1000,
            )
        except Error as exc:
            raise InfraError(f"Chromium ({executable}) did not start: {exc.message}") from None
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def new_page(
    browser: Browser,
    *,
    base_url: str | None = None,
    viewport: tuple[int, int] = (1280, 800),
    **context_options: Any,
) -> AsyncIterator[Page]:
    """A page in a fresh browser context (own cookies and storage), closed on exit.

    The page's locale is Russian and its time zone Moscow's, like the diary's users.
    Extra keyword arguments go to `Browser.new_context` (e.g. `is_mobile=True`).
    """
    width, height = viewport
    options: dict[str, Any] = {"locale": "ru-RU", "timezone_id": "Europe/Moscow", **context_options}
    context = await browser.new_context(
        base_url=base_url, viewport=ViewportSize(width=width, height=height), **options
    )
    try:
        yield await context.new_page()
    finally:
        await context.close()
