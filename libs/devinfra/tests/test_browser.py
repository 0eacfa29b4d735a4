"""The `browser` fixture is a real headless Chromium: it runs a page's JavaScript and clicks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.async_api import Browser

from diary_devinfra import _process
from diary_devinfra.browser import LAUNCH_FLAGS, new_page

pytestmark = pytest.mark.infra

PAGE = """<!doctype html>
<html lang="ru">
<head><meta charset="utf-8"><title>Проверка</title></head>
<body>
  <p id="state">скрипт не выполнялся</p>
  <button id="add" type="button">Добавить</button>
  <ul id="items"></ul>
  <script type="module" src="/static/app.js"></script>
</body>
</html>
"""

SCRIPT = """
document.getElementById("state").textContent = "скрипт выполнен";
document.getElementById("add").addEventListener("click", async () => {
  const answer = await fetch("/api/echo", { headers: { "X-Diary-Client": "web" } });
  const item = document.createElement("li");
  item.dataset.testid = "item";
  item.textContent = (await answer.json()).client;
  document.getElementById("items").append(item);
});
"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/":
            self._send(PAGE, "text/html; charset=utf-8")
        elif self.path == "/static/app.js":
            self._send(SCRIPT, "text/javascript; charset=utf-8")
        elif self.path == "/api/echo":
            client = self.headers.get("X-Diary-Client", "")
            self._send(f'{{"client": "{client}"}}', "application/json")
        else:
            self.send_error(404)

    def _send(self, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    (port,) = _process.free_ports(1)
    server = ThreadingHTTPServer((_process.LOCALHOST, port), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{_process.LOCALHOST}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def test_a_page_runs_its_script_and_a_click_changes_the_dom(browser: Browser, site: str) -> None:
    async with new_page(browser, base_url=site) as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto("/")

        await page.wait_for_function(
            "document.getElementById('state').textContent === 'скрипт выполнен'", timeout=10_000
        )
        assert await page.title() == "Проверка"
        assert await page.get_by_test_id("item").count() == 0

        await page.get_by_role("button", name="Добавить").click()
        await page.get_by_test_id("item").first.wait_for(timeout=10_000)

        assert await page.get_by_test_id("item").all_text_contents() == ["web"]
        assert errors == []


async def test_each_context_starts_with_empty_storage(browser: Browser, site: str) -> None:
    async with new_page(browser, base_url=site) as page:
        await page.goto("/")
        await page.evaluate("localStorage.setItem('child', 'первый')")
        assert await page.evaluate("localStorage.getItem('child')") == "первый"

    async with new_page(browser, base_url=site, viewport=(360, 740)) as page:
        await page.goto("/")
        assert await page.evaluate("localStorage.getItem('child')") is None
        assert await page.evaluate("window.innerWidth") == 360
        assert await page.evaluate("navigator.language") == "ru-RU"


def test_the_browser_is_the_debian_chromium_headless(browser: Browser) -> None:
    assert browser.is_connected()
    assert browser.browser_type.name == "chromium"
    assert browser.version.split(".")[0].isdigit()
    assert "--headless" in LAUNCH_FLAGS
