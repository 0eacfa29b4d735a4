"""HTTP API of notifications: a guardian's preferences and in-app feed (behind the gateway).

Every route but unsubscribe needs identity's access token; a guardian sees and changes only
their own. The unsubscribe link from a letter works without signing in (its token is signed).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time
from typing import Annotated, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from diary_kernel.db import Pool
from diary_kernel.http_auth import Caller
from diary_kernel.problems import PROBLEM_RESPONSES, Problem
from notifications.adapters import preferences as stored
from notifications.adapters.unsubscribe import UnsubscribeLinks
from notifications.domain.letters import feed_item
from notifications.domain.notices import KIND_TITLES, NOTICE_KINDS, NoticeKind, notice_from_dict
from notifications.domain.preferences import Preferences, PreferencesError

router = APIRouter(responses=PROBLEM_RESPONSES)


def _pool(request: Request) -> Pool:
    pool: Pool = request.app.state.runtime.pool
    return pool


class PreferencesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: list[NoticeKind] = Field(description="The kinds of notices wanted at all.")
    email: bool
    feed: bool
    mode: Literal["instant", "digest"] = Field(description="E-mail at once, or one letter a day.")
    quiet_from: time | None = Field(description="Moscow time; no e-mail from then …")
    quiet_to: time | None = Field(description="… until then (may wrap midnight).")
    digest_at: time = Field(description="Moscow time the daily digest goes out.")

    @classmethod
    def of(cls, preferences: Preferences) -> PreferencesBody:
        return cls(
            kinds=[k for k in NOTICE_KINDS if k in preferences.kinds],
            email=preferences.email,
            feed=preferences.feed,
            mode=preferences.mode,
            quiet_from=preferences.quiet_from,
            quiet_to=preferences.quiet_to,
            digest_at=preferences.digest_at,
        )


class KindView(BaseModel):
    kind: NoticeKind
    title: str


class FeedEntry(BaseModel):
    notification_id: UUID
    kind: str
    title: str
    body: str
    pupil_id: UUID | None
    occurred_at: datetime
    read: bool


class Feed(BaseModel):
    items: list[FeedEntry]
    unread: int
    next_before: str | None = Field(description="Pass as `before` for the next (older) page (a cursor).")


class Unread(BaseModel):
    unread: int


@router.get("/notification-kinds", tags=["preferences"], summary="What a guardian can be told about")
async def kinds() -> list[KindView]:
    return [KindView(kind=k, title=KIND_TITLES[k]) for k in NOTICE_KINDS]


@router.get("/preferences", tags=["preferences"], summary="My notification preferences")
async def my_preferences(request: Request, caller: Caller) -> PreferencesBody:
    async with _pool(request).acquire() as conn:
        return PreferencesBody.of(
            await stored.of(conn, caller.account_id, request.app.state.default_preferences)
        )


@router.put("/preferences", tags=["preferences"], summary="Change my notification preferences")
async def change_preferences(body: PreferencesBody, request: Request, caller: Caller) -> PreferencesBody:
    preferences = Preferences(
        kinds=frozenset(body.kinds),
        email=body.email,
        feed=body.feed,
        mode=body.mode,
        quiet_from=body.quiet_from,
        quiet_to=body.quiet_to,
        digest_at=body.digest_at,
    )
    try:
        preferences.validate()
    except PreferencesError as exc:
        raise Problem(
            422, "Invalid preferences", exc.message, errors=[{"field": exc.field, "message": exc.message}]
        ) from exc
    async with _pool(request).acquire() as conn:
        await stored.save(conn, caller.account_id, preferences)
    return PreferencesBody.of(preferences)


@router.get("/feed", tags=["feed"], summary="My notifications, newest first, paged")
async def feed(
    request: Request,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[
        str | None, Query(max_length=100, description="`next_before` of the previous page")
    ] = None,
) -> Feed:
    after_moment, after_id = _cursor(before)
    async with _pool(request).acquire() as conn:
        rows = await conn.fetch(
            """SELECT delivery_id, kind, notice, occurred_at, read_at
               FROM deliveries WHERE account_id = $1 AND channel = 'feed'
                 AND ($2::timestamptz IS NULL OR (occurred_at, delivery_id) < ($2, $3))
               ORDER BY occurred_at DESC, delivery_id DESC LIMIT $4""",
            caller.account_id,
            after_moment,
            after_id,
            limit,
        )
        unread = await _unread(request, caller.account_id)
    items = []
    for row in rows:
        notice = notice_from_dict(row["notice"])
        shown = feed_item(notice)
        items.append(
            FeedEntry(
                notification_id=row["delivery_id"],
                kind=row["kind"],
                title=shown.title,
                body=shown.body,
                pupil_id=notice.pupil_id,
                occurred_at=row["occurred_at"],
                read=row["read_at"] is not None,
            )
        )
    last = rows[-1] if len(rows) == limit else None
    next_before = f"{last['occurred_at'].isoformat()}~{last['delivery_id']}" if last else None
    return Feed(items=items, unread=unread, next_before=next_before)


def _cursor(before: str | None) -> tuple[datetime | None, UUID | None]:
    """`next_before` names the last entry of a page: its time and id (times alone may tie)."""
    if before is None:
        return None, None
    moment, _, entry = before.partition("~")
    try:
        return datetime.fromisoformat(moment), UUID(entry)
    except ValueError as exc:
        detail = "not a cursor this API gave out"
        raise Problem(
            422, "Invalid request", detail, errors=[{"field": "query.before", "message": detail}]
        ) from exc


async def _unread(request: Request, account_id: UUID) -> int:
    async with _pool(request).acquire() as conn:
        count: int = await conn.fetchval(
            """SELECT count(*) FROM deliveries
               WHERE account_id = $1 AND channel = 'feed' AND read_at IS NULL""",
            account_id,
        )
    return count


@router.get("/feed/unread-count", tags=["feed"], summary="How many of my notifications are unread")
async def unread_count(request: Request, caller: Caller) -> Unread:
    return Unread(unread=await _unread(request, caller.account_id))


@router.post("/feed/{notification_id}/read", status_code=204, tags=["feed"], summary="Mark one as read")
async def mark_read(notification_id: UUID, request: Request, caller: Caller) -> Response:
    async with _pool(request).acquire() as conn:
        found = await conn.fetchval(
            """UPDATE deliveries SET read_at = coalesce(read_at, now())
               WHERE delivery_id = $1 AND account_id = $2 AND channel = 'feed' RETURNING true""",
            notification_id,
            caller.account_id,
        )
    if not found:  # another guardian's notification answers as if it did not exist
        detail = f"no notification {notification_id}"
        raise Problem(404, "Not found", detail, errors=[{"field": "notification_id", "message": detail}])
    return Response(status_code=204)


@router.post("/feed/read", tags=["feed"], summary="Mark all as read")
async def mark_all_read(request: Request, caller: Caller) -> Unread:
    async with _pool(request).acquire() as conn:
        await conn.execute(
            """UPDATE deliveries SET read_at = now()
               WHERE account_id = $1 AND channel = 'feed' AND read_at IS NULL""",
            caller.account_id,
        )
    return Unread(unread=0)


UNSUBSCRIBED = (
    "<!doctype html><html lang=ru><meta charset=utf-8><title>Электронный дневник</title>"
    "<p>Письма с уведомлениями больше не будут приходить. Уведомления в дневнике остаются; "
    "настройки можно изменить в разделе «Уведомления».</p></html>"
)


def _unsubscribed_account(request: Request, token: str) -> UUID:
    links: UnsubscribeLinks = request.app.state.unsubscribe_links
    account = links.account_of(token)
    if account is None:
        raise Problem(404, "Not found", "this unsubscribe link is not valid")
    return account


@router.get("/unsubscribe", tags=["preferences"], summary="The letters' unsubscribe link: asks to confirm")
async def unsubscribe_page(request: Request, token: Annotated[str, Query(max_length=200)]) -> Response:
    """A page with one button: a link opened by a mail scanner changes nothing (RFC 8058)."""
    _unsubscribed_account(request, token)
    page = (
        "<!doctype html><html lang=ru><meta charset=utf-8><title>Электронный дневник</title>"
        "<p>Больше не присылать письма с уведомлениями из электронного дневника?</p>"
        f"<form method=post action='?token={quote(token)}'>"
        "<button type=submit>Отписаться</button></form></html>"
    )
    return Response(page, media_type="text/html; charset=utf-8")


@router.post("/unsubscribe", tags=["preferences"], summary="Unsubscribe (the page's button, or one-click)")
async def unsubscribe(request: Request, token: Annotated[str, Query(max_length=200)]) -> Response:
    account = _unsubscribed_account(request, token)
    async with _pool(request).acquire() as conn:
        current = await stored.of(conn, account, request.app.state.default_preferences)
        await stored.save(conn, account, _without_email(current))
    return Response(UNSUBSCRIBED, media_type="text/html; charset=utf-8")


def _without_email(preferences: Preferences) -> Preferences:
    return replace(preferences, email=False)
