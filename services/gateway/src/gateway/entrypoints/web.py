"""The parents' web page: one HTML shell for every page path, its scripts and styles from /static.

The page is a small single-page app (plain JavaScript, no build step) that talks to `/api/v1`.
Its paths are also where e-mailed links land (`/registration/confirm?token=…`), so those
answers must not leak the token onwards: no referrer, no caching, and a strict content policy.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles

from diary_kernel.problems import Problem

WEB = Path(__file__).resolve().parent.parent / "web"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
_NOT_PAGES = (
    "api/",
    "static/",
    "federated/",
    "docs",
    "openapi.json",
    "metrics",
    "healthz",
    "readyz",
    "redoc",
)


def install_web_page(app: FastAPI) -> None:
    """Mount the static files and answer every other GET path with the page (registered last)."""
    app.mount("/static", StaticFiles(directory=WEB), name="static")

    @app.get("/{path:path}", include_in_schema=False)
    async def page(path: str, request: Request) -> Response:
        if path.startswith(_NOT_PAGES):
            raise Problem(404, "Not found", f"nothing at /{path}")
        return FileResponse(WEB / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
