"""Notifications through the gateway: a guardian's in-app feed and notification preferences.

The notifications service checks the caller's token itself and shows each guardian only their
own; the gateway validates the input first (the same models, so the same problem+json fields)
and passes the call on with the token. The letters' unsubscribe link lands here too
(`<public_url>/api/v1/notifications/unsubscribe?token=…`): it needs no sign-in, its token is
signed by the service, and the service's short HTML answer is passed through.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from diary_kernel.problems import PROBLEM_RESPONSES
from gateway.adapters.upstream import Upstream, Upstreams
from gateway.entrypoints.auth import SignedIn, Viewer
from gateway.entrypoints.relay import API_PREFIX, relay
from notifications.entrypoints.http_notifications import Feed, KindView, PreferencesBody, Unread

router = APIRouter(
    prefix=f"{API_PREFIX}/notifications",
    tags=["notifications"],
    responses={
        **PROBLEM_RESPONSES,
        401: PROBLEM_RESPONSES[404] | {"description": "Not signed in"},
    },
)

UNSUBSCRIBE_PAGE_HEADERS = {
    # The page a letter's link opens: the URL carries a token, so it goes nowhere else.
    "Content-Security-Policy": (
        "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _notifications(request: Request) -> Upstream:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams.notifications


async def _call(
    request: Request,
    method: str,
    path: str,
    viewer: Viewer | None,
    *,
    params: dict[str, str] | None = None,
    body: object = None,
) -> Response:
    headers = viewer.authorization if viewer is not None else {}
    return await relay(
        request, _notifications(request), method, path, headers=headers, params=params, json=body
    )


@router.get("/kinds", response_model=list[KindView], summary="What a guardian can be told about")
async def kinds(request: Request) -> Response:
    return await _call(request, "GET", "/notification-kinds", None)


@router.get("/preferences", response_model=PreferencesBody, summary="My notification preferences")
async def my_preferences(request: Request, viewer: SignedIn) -> Response:
    return await _call(request, "GET", "/preferences", viewer)


@router.put("/preferences", response_model=PreferencesBody, summary="Change my notification preferences")
async def change_preferences(body: PreferencesBody, request: Request, viewer: SignedIn) -> Response:
    return await _call(request, "PUT", "/preferences", viewer, body=body.model_dump(mode="json"))


@router.get("/feed", response_model=Feed, summary="My notifications, newest first, paged")
async def feed(
    request: Request,
    viewer: SignedIn,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[
        str | None, Query(max_length=100, description="`next_before` of the previous page")
    ] = None,
) -> Response:
    params = {"limit": str(limit)}
    if before is not None:
        params["before"] = before
    return await _call(request, "GET", "/feed", viewer, params=params)


@router.get("/feed/unread-count", response_model=Unread, summary="How many of my notifications are unread")
async def unread_count(request: Request, viewer: SignedIn) -> Response:
    return await _call(request, "GET", "/feed/unread-count", viewer)


@router.post("/feed/read", response_model=Unread, summary="Mark all my notifications as read")
async def mark_all_read(request: Request, viewer: SignedIn) -> Response:
    return await _call(request, "POST", "/feed/read", viewer)


@router.post("/feed/{notification_id}/read", status_code=204, summary="Mark one notification as read")
async def mark_read(notification_id: UUID, request: Request, viewer: SignedIn) -> Response:
    return await _call(request, "POST", f"/feed/{notification_id}/read", viewer)


@router.get(
    "/unsubscribe",
    response_class=HTMLResponse,
    summary="The letters' unsubscribe link: no more e-mail (no sign-in; the token is signed)",
)
async def unsubscribe(request: Request, token: Annotated[str, Query(max_length=200)]) -> Response:
    answer = await _call(request, "GET", "/unsubscribe", None, params={"token": token})
    answer.headers.update(UNSUBSCRIBE_PAGE_HEADERS)
    return answer


@router.post(
    "/unsubscribe",
    response_class=HTMLResponse,
    summary="Unsubscribe: the page's button, or a mail client's one-click POST (RFC 8058)",
)
async def unsubscribe_now(request: Request, token: Annotated[str, Query(max_length=200)]) -> Response:
    answer = await _call(request, "POST", "/unsubscribe", None, params={"token": token})
    answer.headers.update(UNSUBSCRIBE_PAGE_HEADERS)
    return answer
